"""scikit-learn's MLP rules, on a :class:`~fastbackprop.Network`.

The estimators (:mod:`fastbackprop.estimators`) train a network with the
compiled loop and get scikit-learn's ``MLPClassifier``/``MLPRegressor``
behaviour from the pieces here:

- :class:`LossUnits`: scikit-learn's loss against the network's. The
  network's element-wise losses average over rows *and* outputs (torch's
  definitions, and torch's ``MSELoss`` has no one-half); scikit-learn's
  gradient sums over the outputs and halves the squared error. The two
  differ by a constant factor per fit, so the optimizer's settings are
  rescaled (:func:`in_network_units`) instead of adding losses to the
  kernels: the steps are then scikit-learn's, up to rounding.
- :func:`glorot_uniform`: scikit-learn's initialisation, drawn from its
  ``RandomState`` in its order, so an int ``random_state`` starts from
  scikit-learn's own weights.
- :class:`EpochRule`: after every epoch, scikit-learn's loss (with the
  ``alpha`` penalty), its stopping rule on the training loss or the
  validation score, its ``adaptive`` and ``invscaling`` rates and its
  verbose lines; :class:`RuleRate` hands the rate to ``Network.fit``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .callbacks import Callback
from .optim import SGD, Adam, AdamW, Optimizer, RMSprop
from .schedules import Schedule

#: scikit-learn's floor under the ``adaptive`` rate: below it, training stops
ADAPTIVE_MIN_RATE = 1e-6
#: and its cut when the rule fires
ADAPTIVE_DIVISOR = 5.0


@dataclass(frozen=True)
class LossUnits:
    """How scikit-learn's loss and gradient relate to the network's.

    ``gradient``: scikit-learn's gradient is the network's divided by it
    (the network's gradient is ``gradient`` times scikit-learn's).
    ``loss``: scikit-learn's loss is the network's times it.
    """

    gradient: float = 1.0
    loss: float = 1.0
    offset: float = 0.0  # added to scikit-learn's loss (its Poisson deviance's constant)

    @classmethod
    def of(cls, network_loss: str, n_outputs: int) -> LossUnits:
        """For a network's loss with ``n_outputs`` outputs.

        - softmax cross-entropy: the same;
        - binary cross-entropy, one per output, and Poisson: the network
          averages the outputs, scikit-learn sums them (and adds to
          ``exp(z) - y z`` the constant ``y log y - y``: ``offset``, set
          by the caller from the targets);
        - squared error: the network averages ``err**2`` over the outputs,
          scikit-learn reports half that mean and steps on ``err`` summed
          over the outputs (its gradient is not its loss's for several
          outputs; the network's and these units keep the pair consistent).
        """
        if network_loss in ("binary_cross_entropy", "poisson"):
            return cls(gradient=1.0 / n_outputs, loss=float(n_outputs))
        if network_loss == "mse":
            return cls(gradient=2.0 / n_outputs, loss=0.5)
        return cls()


def in_network_units(optimizer: Optimizer, units: LossUnits) -> Optimizer:
    """A copy of ``optimizer`` that takes, on the network's gradient
    (``units.gradient`` times scikit-learn's), the steps ``optimizer``
    takes on scikit-learn's: SGD's rate, and the epsilon of Adam, AdamW and
    RMSprop, and the coupled weight decay, scale with the gradient."""
    c = units.gradient
    scaled = copy.deepcopy(optimizer)
    if c == 1.0:
        return scaled
    if isinstance(scaled, SGD):
        scaled.learning_rate = optimizer.learning_rate / c  # its step is lr * gradient
    if isinstance(scaled, (Adam, RMSprop)):
        scaled.eps = optimizer.eps * c  # m / (sqrt(v) + eps): m and sqrt(v) scale alike
    if not isinstance(scaled, AdamW):  # AdamW's decay is decoupled from the gradient
        scaled.weight_decay = optimizer.weight_decay * c
    return scaled


def glorot_uniform(layer_sizes, random_state, logistic: bool) -> list:
    """scikit-learn's ``_init_coef`` for every layer: ``(weights, biases)``
    uniform in ``+-sqrt(factor / (fan_in + fan_out))``, ``factor`` 2 for
    logistic activations and 6 otherwise, drawn in float64 from
    ``random_state`` in its order (a layer's weights, then its biases)."""
    factor = 2.0 if logistic else 6.0
    layers = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        weights = random_state.uniform(-bound, bound, (fan_in, fan_out))
        layers.append((weights, random_state.uniform(-bound, bound, fan_out)))
    return layers


def set_parameters(network, layers) -> None:
    """Write ``(weights, biases)`` per layer into ``network`` (in its dtype)."""
    for (weights, biases), w, b in zip(layers, network.weights, network.biases):
        w[...] = weights
        b[...] = biases


def rescale_momentum(network, factor: float) -> None:
    """Keep SGD's momentum scikit-learn's across a change of rate.

    The network's SGD is torch's, ``b = m b + g; p -= lr b``; scikit-learn's
    keeps a velocity ``v = m v - lr g; p += v``. They agree while
    ``v = -lr b``, so a new rate ``lr'`` needs ``b' = b lr / lr'``:
    ``factor`` is ``lr / lr'``."""
    optimizer = network.optimizer
    if not isinstance(optimizer, SGD) or optimizer.momentum == 0.0:
        return
    state = network.get_training_state()
    buffers = state.optimizer_state.copy()
    buffers[0] *= factor  # OptSlot.FIRST: the momentum buffer
    network.set_training_state(dataclasses.replace(state, optimizer_state=buffers))


def weight_squares(network) -> float:
    """``sum(W**2)`` over every weight matrix (not the biases), in float64."""
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging fit: inf
        return float(sum(np.dot(w.ravel(), w.ravel()) for w in network.weights))


@dataclass
class RuleState:
    """What scikit-learn's rule carries from one call to the next (a warm
    start or ``partial_fit``): its best training loss and validation score,
    epochs without improvement, rows trained on (``t_``), the current rate
    (``partial_fit`` continues it), and the parameters of the best
    validation score (with ``early_stopping``)."""

    best_loss: float = math.inf
    best_score: float = -math.inf
    count: int = 0
    t: int = 0
    learning_rate: float | None = None
    best_parameters: np.ndarray | None = None
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    validation_losses: list = field(default_factory=list)


@dataclass
class Validation:
    """The held-out rows of ``early_stopping`` and how to score them."""

    X: np.ndarray
    targets: np.ndarray  # the network's targets, for the loss
    weights: np.ndarray | None
    score: object  # score(network) -> float, NaN for non-finite outputs
    watch_loss: bool  # the rule watches the validation loss, not the score


class EpochRule(Callback):
    """scikit-learn's ``_fit_stochastic`` bookkeeping after every epoch.

    Records scikit-learn's epoch loss (the network's, which includes the
    ``alpha`` penalty at each batch's weights, in scikit-learn's units), the
    validation score, and steps scikit-learn's rule: an epoch that does not beat the best by
    more than ``tol`` counts; more than ``patience`` such epochs in a row
    stop training, or with ``adaptive`` divide the rate by 5 until it falls
    to 1e-6. ``invscaling`` sets the rate to ``init / (t + 1) ** power_t``
    after every epoch, ``t`` counting the rows trained on.
    """

    def __init__(
        self,
        state: RuleState,
        *,
        units: LossUnits,
        residual_penalty: float,
        penalty_share: float,
        n_rows: int,
        tol: float,
        patience: float,
        validation: Validation | None,
        schedule: str,
        initial_rate: float,
        power_t: float,
        rate_scale: float,
        verbose: bool,
        first_iteration: int = 1,
    ):
        self.state = state
        self.units = units
        self.residual_penalty = residual_penalty
        self.penalty_share = penalty_share
        self.n_rows = n_rows
        self.tol = tol
        self.patience = patience
        self.validation = validation
        self.schedule = schedule
        self.initial_rate = initial_rate
        self.power_t = power_t
        self.rate_scale = rate_scale
        self.verbose = verbose
        self.iteration = first_iteration - 1
        self.stopped = False

    def on_train_begin(self, network):
        self._network = network
        # the part of the penalty the units do not carry over (several
        # squared-error outputs only): at the epoch's starting weights
        self._start_squares = weight_squares(network) if self.residual_penalty else 0.0

    def on_epoch_end(self, epoch, logs):
        network, state = self._network, self.state
        self.iteration += 1
        loss = self.units.loss * logs["loss"] + self.units.offset
        if self.residual_penalty:
            loss += 0.5 * self.residual_penalty * self._start_squares * self.penalty_share
            self._start_squares = weight_squares(network)
        state.loss_curve.append(loss)
        state.t += self.n_rows
        if self.verbose:
            print(f"Iteration {self.iteration}, loss = {loss:.8f}")
        if self.validation is not None:
            improved = self._validate(network)
        else:
            improved = not loss > state.best_loss - self.tol
            state.best_loss = min(state.best_loss, loss)
        state.count = 0 if improved else state.count + 1
        rate = state.learning_rate
        if self.schedule == "invscaling":
            state.learning_rate = self.initial_rate / (state.t + 1) ** self.power_t
        if state.count > self.patience:
            if self.schedule == "adaptive" and state.learning_rate > ADAPTIVE_MIN_RATE:
                state.learning_rate /= ADAPTIVE_DIVISOR
                state.count = 0
            else:
                self.stopped = True
        if state.learning_rate != rate:
            rescale_momentum(network, rate / state.learning_rate)
        return self.stopped

    def _validate(self, network) -> bool:
        """Score the held-out rows; returns whether this epoch improved on
        the best by more than ``tol`` (keeping its parameters if it is the
        best so far)."""
        state, validation = self.state, self.validation
        score = validation.score(network)
        state.validation_scores.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if validation.watch_loss:
            value = self.units.offset + self.units.loss * network.compute_loss(
                validation.X, validation.targets, validation.weights
            )
            state.validation_losses.append(value)
            value = -value  # higher is better below
        else:
            value = score
        improved = not value < state.best_score + self.tol
        if value > state.best_score:
            state.best_score = value
            state.best_parameters = network.get_training_state().parameters
        return improved

    def network_rate(self) -> float:
        """The rate the network's optimizer takes for the next epoch."""
        return self.state.learning_rate / self.rate_scale

    def on_train_end(self):
        self._network = None


class RuleRate(Schedule):
    """The rate of an :class:`EpochRule`, as ``Network.fit``'s schedule."""

    is_static = False

    def __init__(self, rule: EpochRule):
        self.rule = rule

    def learning_rate(self, epoch, base_lr):
        return self.rule.network_rate()

    def update(self, logs):
        return self.rule.network_rate()
