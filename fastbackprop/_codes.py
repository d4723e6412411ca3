"""The tables of activations, losses and optimizers, and their integer codes.

The compiled epoch picks an activation or a loss by a small integer, so one
compiled specialisation (per dtype) serves every architecture. Every other
module that needs the list of activations or losses reads it from here.
"""

from typing import NamedTuple


class Activation(NamedTuple):
    """One row of the activation table."""

    name: str  # the user-facing name
    code: int  # what the kernels dispatch on
    from_output: bool  # f'(z) computed from f(z) (else from z)
    relu_family: bool  # He initialisation by default (_init.default_init)


class Loss(NamedTuple):
    """One row of the loss table."""

    name: str
    code: int
    per_row_outputs: bool  # its mean is over every output (bce, mse), not per row
    regression: bool  # no accuracy; scored by R^2


#: THE table of hidden activations: validation, both backends' dispatch and
#: the tests all read it. A kernel for each lives in
#: ``kernels/activations.py`` (``_<name>_forward_row``/``_backward_row``), a
#: twin in ``reference/activations.py`` (``<name>_forward``/``_backward``).
ACTIVATION_TABLE = (
    Activation("identity", 0, True, False),
    Activation("sigmoid", 1, True, False),
    Activation("tanh", 2, True, False),
    Activation("relu", 3, True, True),
    Activation("leaky_relu", 4, True, True),
    Activation("elu", 5, True, True),
    Activation("gelu", 6, False, True),
    Activation("silu", 7, False, True),
)

#: THE table of losses (kernels/losses.py and reference/losses.py: ``LOSSES``)
LOSS_TABLE = (
    Loss("cross_entropy", 0, False, False),
    Loss("binary_cross_entropy", 1, True, False),
    Loss("mse", 2, True, True),
    # torch's PoissonNLLLoss(log_input=True): exp(z) - y z, the log link
    Loss("poisson", 3, True, True),
)

ACTIVATION_CODES = {act.name: act.code for act in ACTIVATION_TABLE}
LOSS_CODES = {loss.name: loss.code for loss in LOSS_TABLE}

# The codes as module constants: compiled code reads them as constants.
IDENTITY = ACTIVATION_CODES["identity"]
SIGMOID = ACTIVATION_CODES["sigmoid"]
TANH = ACTIVATION_CODES["tanh"]
RELU = ACTIVATION_CODES["relu"]
LEAKY_RELU = ACTIVATION_CODES["leaky_relu"]
ELU = ACTIVATION_CODES["elu"]
GELU = ACTIVATION_CODES["gelu"]
SILU = ACTIVATION_CODES["silu"]
N_ACTIVATIONS = len(ACTIVATION_TABLE)

CROSS_ENTROPY = LOSS_CODES["cross_entropy"]
BINARY_CROSS_ENTROPY = LOSS_CODES["binary_cross_entropy"]
MSE = LOSS_CODES["mse"]
POISSON = LOSS_CODES["poisson"]
#: the losses of regression: no accuracy, scored by R^2
REGRESSION_LOSSES = tuple(loss.name for loss in LOSS_TABLE if loss.regression)
N_LOSSES = len(LOSS_TABLE)

#: the output activation each loss implies when ``output=None``
NATURAL_OUTPUT = {
    "cross_entropy": "softmax",
    "binary_cross_entropy": "sigmoid",
    "mse": "identity",
    "poisson": "exp",
}

#: the output activations each loss accepts
ALLOWED_OUTPUTS = {
    "cross_entropy": ("softmax",),
    "binary_cross_entropy": ("sigmoid",),
    "mse": ("identity", "sigmoid"),
    "poisson": ("exp",),
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
# scikit-learn's alpha: the L2 penalty alpha / 2 * sum(W**2) / (batch weight)
# on the weight matrices (not the biases), whatever the optimizer. The
# training loop writes each batch's coefficient, alpha / (batch weight),
# into its own copy of the vector, for the phases that add it.
HYPER_PENALTY = 6
HYPER_STEP_PENALTY = 7
# 1.0: Adam adds eps to sqrt(v) before the bias correction (scikit-learn's
# AdamOptimizer), 0.0: after it (torch's)
HYPER_EPS_BEFORE_CORRECTION = 8
N_HYPER = 9
