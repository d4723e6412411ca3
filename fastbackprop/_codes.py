"""Integer codes shared by both backends.

The compiled epoch picks an activation or a loss by a small integer, so one
compiled specialisation (per dtype) serves every architecture.
"""

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4
ELU = 5
GELU = 6
SILU = 7

ACTIVATION_CODES = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SILU,
}

CROSS_ENTROPY = 0
BINARY_CROSS_ENTROPY = 1
MSE = 2

LOSS_CODES = {
    "cross_entropy": CROSS_ENTROPY,
    "binary_cross_entropy": BINARY_CROSS_ENTROPY,
    "mse": MSE,
}

#: the output activation each loss implies when ``output=None``
NATURAL_OUTPUT = {
    "cross_entropy": "softmax",
    "binary_cross_entropy": "sigmoid",
    "mse": "identity",
}

#: the output activations each loss accepts
ALLOWED_OUTPUTS = {
    "cross_entropy": ("softmax",),
    "binary_cross_entropy": ("sigmoid",),
    "mse": ("identity", "sigmoid"),
}

#: slope of leaky_relu for negative inputs, as in PyTorch's default
LEAKY_SLOPE = 0.01

SGD = 0
ADAM = 1
ADAMW = 2
RMSPROP = 3

# Slots of the float64 hyperparameter vector every optimizer kernel takes
# (unused slots are ignored by the optimizers that have no such setting).
HYPER_MOMENTUM = 0  # SGD momentum, Adam beta1, RMSprop alpha
HYPER_BETA2 = 1  # Adam beta2
HYPER_EPS = 2
HYPER_WEIGHT_DECAY = 3
HYPER_NESTEROV = 4  # 1.0 for Nesterov SGD
HYPER_RMS_MOMENTUM = 5  # RMSprop momentum
N_HYPER = 6
