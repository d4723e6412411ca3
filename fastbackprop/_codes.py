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
