"""Optimizers against torch.optim's documented updates (hand-written in
NumPy) and, when torch is installed, against torch itself."""

import copy
from dataclasses import replace

import numpy as np
import pytest

from fastbackprop import Network
from fastbackprop.optim import SGD, Adam, AdamW, RMSprop

BACKENDS = ["numba", "numpy"]
SIZES = [4, 6, 5, 3]
STEPS = 5

OPTIMIZERS = {
    "sgd": lambda: SGD(0.1),
    "sgd_momentum": lambda: SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: SGD(0.1, momentum=0.9, nesterov=True),
    "sgd_weight_decay": lambda: SGD(0.1, weight_decay=0.05),
    "adam": lambda: Adam(0.01),
    "adam_weight_decay": lambda: Adam(0.01, beta1=0.8, beta2=0.99, eps=1e-7, weight_decay=0.1),
    "adamw": lambda: AdamW(0.01, weight_decay=0.1),
    "rmsprop": lambda: RMSprop(0.01),
    "rmsprop_momentum": lambda: RMSprop(0.01, alpha=0.9, momentum=0.8, weight_decay=0.01),
}


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, SIZES[0]))
    y = rng.integers(0, SIZES[-1], n)
    return X, y


def _net(backend="numba", seed=3, **kwargs):
    return Network(SIZES, activation="tanh", seed=seed, backend=backend, **kwargs)


def _flat_gradients(net, X, y):
    gw, gb = net.gradients(X, y)
    parts = []
    for w, b in zip(gw, gb, strict=True):
        parts += [np.asarray(w).ravel(), np.asarray(b).ravel()]
    return np.concatenate(parts)


class TorchStyleOptimizer:
    """torch.optim's documented algorithms, written from the docs, on a flat
    float64 vector."""

    def __init__(self, opt):
        self.opt = opt
        self.t = 0
        self.buf = None
        self.m = None
        self.v = None
        self.sq = None

    def step(self, p, g):
        o = self.opt
        self.t += 1
        lr, wd = o.learning_rate, o.weight_decay
        if isinstance(o, SGD):
            if wd:
                g = g + wd * p
            if o.momentum:
                self.buf = g.copy() if self.buf is None else o.momentum * self.buf + g
                g = g + o.momentum * self.buf if o.nesterov else self.buf
            return p - lr * g
        if isinstance(o, Adam):  # AdamW subclasses Adam
            if isinstance(o, AdamW):
                p = p * (1 - lr * wd)
            elif wd:
                g = g + wd * p
            if self.m is None:
                self.m, self.v = np.zeros_like(p), np.zeros_like(p)
            self.m = o.beta1 * self.m + (1 - o.beta1) * g
            self.v = o.beta2 * self.v + (1 - o.beta2) * g * g
            bc1 = 1 - o.beta1**self.t
            bc2 = 1 - o.beta2**self.t
            if o.eps_before_correction:  # scikit-learn's AdamOptimizer, from its source
                learning_rate = lr * np.sqrt(bc2) / bc1
                return p - learning_rate * self.m / (np.sqrt(self.v) + o.eps)
            denom = np.sqrt(self.v) / np.sqrt(bc2) + o.eps
            return p - (lr / bc1) * self.m / denom
        assert isinstance(o, RMSprop)
        if wd:
            g = g + wd * p
        if self.sq is None:
            self.sq = np.zeros_like(p)
        self.sq = o.alpha * self.sq + (1 - o.alpha) * g * g
        avg = np.sqrt(self.sq) + o.eps
        if o.momentum > 0:
            self.buf = g / avg if self.buf is None else o.momentum * self.buf + g / avg
            return p - lr * self.buf
        return p - lr * g / avg


def _clip(g, max_norm):
    """torch.nn.utils.clip_grad_norm_ on the concatenation of all gradients."""
    total = np.sqrt(np.sum(g * g))
    factor = max_norm / (total + 1e-6)
    return g * factor if factor < 1 else g


def _hand_trajectory(net, X, y, opt, steps, clip_norm=None):
    work = copy.deepcopy(net)
    ref = TorchStyleOptimizer(opt)
    p = work.get_training_state().parameters
    for _ in range(steps):
        work.set_training_state(replace(work.get_training_state(), parameters=p))
        g = _flat_gradients(work, X, y)
        if clip_norm is not None:
            g = _clip(g, clip_norm)
        p = ref.step(p, g)
    return p


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_matches_hand_written_torch_update(name, backend):
    X, y = _data()
    net = _net(backend)
    expected = _hand_trajectory(net, X, y, OPTIMIZERS[name](), STEPS)
    start = net.get_training_state().parameters
    net.fit(X, y, epochs=STEPS, batch_size=None, shuffle=False, optimizer=OPTIMIZERS[name]())
    assert not np.allclose(
        net.get_training_state().parameters, start
    )  # the test sees real movement
    np.testing.assert_allclose(
        net.get_training_state().parameters, expected, rtol=1e-10, atol=1e-13
    )
    assert int(net.get_training_state().counters[0]) == STEPS


@pytest.mark.parametrize("backend", BACKENDS)
def test_adam_can_add_eps_before_the_bias_correction_as_scikit_learn(backend):
    # a large eps, so that where it goes shows
    X, y = _data()
    net = _net(backend)
    rule = Adam(0.01, eps=1e-3, eps_before_correction=True)
    expected = _hand_trajectory(net, X, y, rule, STEPS)
    torch_form = _hand_trajectory(net, X, y, Adam(0.01, eps=1e-3), STEPS)
    net.fit(X, y, epochs=STEPS, shuffle=False, optimizer=rule)
    np.testing.assert_allclose(
        net.get_training_state().parameters, expected, rtol=1e-10, atol=1e-13
    )
    assert not np.allclose(expected, torch_form, rtol=1e-6)
    assert Adam(eps_before_correction=True).get_config()["eps_before_correction"] is True
    with pytest.raises(TypeError, match="eps_before_correction"):
        Adam(eps_before_correction="yes")


def _torch_model(net, torch):
    layers = []
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(W.T)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
        layers.append(lin)
        if i < len(net.weights) - 1:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def _torch_optimizer(torch, params, opt):
    lr, wd = opt.learning_rate, opt.weight_decay
    if isinstance(opt, SGD):
        return torch.optim.SGD(
            params, lr=lr, momentum=opt.momentum, nesterov=opt.nesterov, weight_decay=wd
        )
    if isinstance(opt, AdamW):
        return torch.optim.AdamW(
            params, lr=lr, betas=(opt.beta1, opt.beta2), eps=opt.eps, weight_decay=wd
        )
    if isinstance(opt, Adam):
        return torch.optim.Adam(
            params, lr=lr, betas=(opt.beta1, opt.beta2), eps=opt.eps, weight_decay=wd
        )
    return torch.optim.RMSprop(
        params, lr=lr, alpha=opt.alpha, eps=opt.eps, momentum=opt.momentum, weight_decay=wd
    )


def _torch_flat(model):
    parts = []
    for module in model:
        if hasattr(module, "weight"):
            parts += [
                module.weight.detach().numpy().T.ravel(),
                module.bias.detach().numpy().ravel(),
            ]
    return np.concatenate(parts)


def _torch_run(net, X, y, opt, steps, clip_norm=None):
    torch = pytest.importorskip("torch")
    model = _torch_model(net, torch)
    np.testing.assert_array_equal(_torch_flat(model), net.get_training_state().parameters)
    optimizer = _torch_optimizer(torch, model.parameters(), opt)
    xt = torch.from_numpy(np.asarray(X, dtype=np.float64))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
    return _torch_flat(model)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_matches_torch(name):
    pytest.importorskip("torch")
    X, y = _data()
    net = _net("numba")
    expected = _torch_run(net, X, y, OPTIMIZERS[name](), STEPS)
    net.fit(X, y, epochs=STEPS, batch_size=None, shuffle=False, optimizer=OPTIMIZERS[name]())
    np.testing.assert_allclose(net.get_training_state().parameters, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "adam"])
def test_clip_norm_matches_hand_written_clip_grad_norm(name, backend):
    X, y = _data()
    net = _net(backend)
    total = np.linalg.norm(_flat_gradients(net, X, y))
    clip = 0.3 * total  # well below the gradient norm, so clipping engages
    expected = _hand_trajectory(net, X, y, OPTIMIZERS[name](), STEPS, clip_norm=clip)
    unclipped = _hand_trajectory(net, X, y, OPTIMIZERS[name](), STEPS)
    net.fit(X, y, epochs=STEPS, shuffle=False, optimizer=OPTIMIZERS[name](), clip_norm=float(clip))
    np.testing.assert_allclose(
        net.get_training_state().parameters, expected, rtol=1e-10, atol=1e-13
    )
    assert not np.allclose(expected, unclipped, rtol=1e-6)


def test_clip_norm_above_gradient_norm_changes_nothing():
    X, y = _data()
    a, b = _net(), _net()
    a.fit(X, y, epochs=STEPS, shuffle=False, optimizer=SGD(0.1))
    b.fit(X, y, epochs=STEPS, shuffle=False, optimizer=SGD(0.1), clip_norm=1e6)
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_clip_norm_matches_torch(name):
    pytest.importorskip("torch")
    X, y = _data()
    net = _net()
    clip = 0.3 * np.linalg.norm(_flat_gradients(net, X, y))
    expected = _torch_run(net, X, y, OPTIMIZERS[name](), STEPS, clip_norm=float(clip))
    net.fit(X, y, epochs=STEPS, shuffle=False, optimizer=OPTIMIZERS[name](), clip_norm=float(clip))
    np.testing.assert_allclose(net.get_training_state().parameters, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_clip_norm_raises_and_changes_nothing(bad):
    X, y = _data()
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(ValueError, match="clip_norm"):
        net.fit(X, y, epochs=1, clip_norm=bad)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)


# ----------------------------------------------------- selection semantics
def test_fresh_network_has_sgd_001():
    net = _net()
    assert type(net.optimizer) is SGD
    assert net.optimizer.learning_rate == 0.01
    assert net.optimizer == SGD(0.01)


def test_fresh_network_default_optimizer_is_plain_sgd_001():
    X, y = _data()
    net = _net()
    expected = _hand_trajectory(net, X, y, SGD(0.01), 3)
    net.fit(X, y, epochs=3, shuffle=False)
    np.testing.assert_allclose(
        net.get_training_state().parameters, expected, rtol=1e-10, atol=1e-13
    )


def test_optimizer_name_with_learning_rate():
    X, y = _data()
    net = _net()
    net.fit(X, y, epochs=1, optimizer="adam", learning_rate=0.01)
    assert type(net.optimizer) is Adam
    assert net.optimizer.learning_rate == 0.01
    assert net.optimizer.beta1 == 0.9 and net.optimizer.beta2 == 0.999


@pytest.mark.parametrize(
    "name, cls", [("sgd", SGD), ("adam", Adam), ("adamw", AdamW), ("rmsprop", RMSprop)]
)
def test_optimizer_names_give_default_instances(name, cls):
    X, y = _data()
    net = _net()
    net.fit(X, y, epochs=1, optimizer=name)
    assert net.optimizer == cls()


def test_optimizer_object_with_learning_rate_raises_and_changes_nothing():
    X, y = _data()
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(ValueError, match="learning_rate"):
        net.fit(X, y, epochs=1, optimizer=Adam(0.01), learning_rate=0.1)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
    assert net.optimizer == SGD(0.01)


def test_learning_rate_without_optimizer_sets_current_rate():
    X, y = _data()
    net = _net()
    opt = Adam(0.01)
    net.fit(X, y, epochs=1, optimizer=opt)
    net.fit(X, y, epochs=1, learning_rate=0.05)
    assert net.optimizer is opt
    assert net.optimizer.learning_rate == 0.05


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "rmsprop_momentum"])
def test_second_fit_continues_optimizer_state(name, backend):
    X, y = _data(40)
    a, b = _net(backend, seed=11), _net(backend, seed=11)
    a.fit(X, y, epochs=2, batch_size=8, optimizer=OPTIMIZERS[name]())
    a.fit(X, y, epochs=2, batch_size=8, optimizer=None)
    b.fit(X, y, epochs=4, batch_size=8, optimizer=OPTIMIZERS[name]())
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )
    np.testing.assert_array_equal(
        a.get_training_state().optimizer_state, b.get_training_state().optimizer_state
    )
    np.testing.assert_array_equal(a.get_training_state().counters, b.get_training_state().counters)
    assert a.history.loss == b.history.loss


def test_same_instance_keeps_state_new_instance_resets_it():
    X, y = _data()
    opt = Adam(0.01)
    a, b, c = _net(), _net(), _net()
    a.fit(X, y, epochs=2, shuffle=False, optimizer=opt)
    a.fit(X, y, epochs=2, shuffle=False, optimizer=opt)
    b.fit(X, y, epochs=4, shuffle=False, optimizer=Adam(0.01))
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )
    # a fresh instance restarts bias correction and moments
    c.fit(X, y, epochs=2, shuffle=False, optimizer=Adam(0.01))
    expected = _hand_trajectory(c, X, y, Adam(0.01), 2)  # zero moments, t restarts at 1
    c.fit(X, y, epochs=2, shuffle=False, optimizer=Adam(0.01))
    assert int(c.get_training_state().counters[0]) == 2
    assert not np.allclose(
        c.get_training_state().parameters, b.get_training_state().parameters, rtol=1e-6
    )
    np.testing.assert_allclose(c.get_training_state().parameters, expected, rtol=1e-10, atol=1e-13)


def test_unknown_optimizer_name_lists_valid_names():
    X, y = _data()
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(ValueError) as info:
        net.fit(X, y, epochs=1, optimizer="adagrad")
    message = str(info.value)
    assert "optimizer" in message
    for name in ("sgd", "adam", "adamw", "rmsprop"):
        assert name in message
    np.testing.assert_array_equal(net.get_training_state().parameters, before)


@pytest.mark.parametrize(
    "factory, argument",
    [
        (lambda: Adam(beta1=1.0), "beta1"),
        (lambda: Adam(beta2=1.5), "beta2"),
        (lambda: Adam(eps=0.0), "eps"),
        (lambda: AdamW(weight_decay=-0.1), "weight_decay"),
        (lambda: SGD(weight_decay=-1.0), "weight_decay"),
        (lambda: SGD(momentum=1.0), "momentum"),
        (lambda: SGD(0.1, nesterov=True), "nesterov"),
        (lambda: RMSprop(alpha=1.0), "alpha"),
        (lambda: RMSprop(momentum=-0.5), "momentum"),
        (lambda: SGD(learning_rate=0.0), "learning_rate"),
        (lambda: Adam(learning_rate=float("nan")), "learning_rate"),
    ],
)
def test_bad_hyperparameters_name_the_argument(factory, argument):
    with pytest.raises(ValueError, match=argument):
        factory()


def test_non_numeric_hyperparameter_is_type_error():
    with pytest.raises(TypeError, match="momentum"):
        SGD(momentum="0.9")


# ------------------------------------------- overflow of the squared gradient
def _overflowing_second_moment(backend, optimizer):
    """A finite loss whose gradient squared overflows: torch's Adam and
    RMSprop then hold v = inf, take a zero step for those entries and go on."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((16, 4)) * 10
    y = rng.standard_normal((16, 1)) * 10
    net = Network([4, 8, 1], loss="mse", activation="identity", seed=5, backend=backend)
    net.fit(X, y, epochs=2, batch_size=4, optimizer=Adam(0.01))
    with np.errstate(over="ignore", invalid="ignore"):
        net.fit(X, y, epochs=1, shuffle=False, optimizer=Adam(1e60))
        # params ~1e60: loss ~1e243 is finite, gradients ~1e183 square to inf
        assert np.isfinite(net.compute_loss(X, y))
        assert not np.all(np.isfinite(_flat_gradients(net, X, y) ** 2))
        net.fit(X, y, epochs=2, shuffle=False, optimizer=optimizer)
    return net


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", ["adam", "rmsprop"])
def test_overflowing_squared_gradient_gives_zero_step_not_nan(name, backend):
    optimizer = {"adam": lambda: Adam(1e60), "rmsprop": lambda: RMSprop(1e60)}[name]()
    net = _overflowing_second_moment(backend, optimizer)
    assert np.all(np.isfinite(net.get_training_state().parameters))
    reference = _overflowing_second_moment("numpy", type(optimizer)(1e60))
    np.testing.assert_allclose(
        net.get_training_state().parameters, reference.get_training_state().parameters, rtol=1e-10
    )
