"""Learning-rate schedules: torch/scikit-learn closed forms, plateau logic, validation."""

import math

import numpy as np
import pytest

from fastbackprop.schedules import (
    SCHEDULES,
    Constant,
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    ReduceLROnPlateau,
    Schedule,
    StepDecay,
    get_schedule,
)

BASE = 0.5
EPOCHS = 20


# ------------------------------------------------------------- static forms
def test_constant_is_base_every_epoch():
    np.testing.assert_array_equal(Constant().rates(5, BASE), [BASE] * 5)


def test_step_decay_hand_worked():
    rates = StepDecay(step_size=3, gamma=0.5).rates(8, 1.0)
    np.testing.assert_array_equal(rates, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_exponential_decay_closed_form():
    rates = ExponentialDecay(0.9).rates(EPOCHS, BASE)
    np.testing.assert_allclose(rates, BASE * 0.9 ** np.arange(EPOCHS), rtol=1e-15)


def test_cosine_closed_form_and_endpoints():
    sched = CosineAnnealing(t_max=10, eta_min=0.01)
    rates = sched.rates(21, BASE)
    e = np.arange(21)
    expected = 0.01 + (BASE - 0.01) * (1 + np.cos(np.pi * e / 10)) / 2
    np.testing.assert_allclose(rates, expected, rtol=1e-15)
    assert rates[0] == BASE
    assert rates[10] == pytest.approx(0.01, abs=1e-15)
    assert rates[5] == pytest.approx((BASE + 0.01) / 2)
    # beyond t_max torch's closed form climbs back up, and so do we
    assert rates[20] == pytest.approx(BASE)


def test_inverse_scaling_matches_sklearn_formula():
    rates = InverseScaling(power_t=0.5).rates(4, 1.0)
    np.testing.assert_allclose(rates, [1, 1 / math.sqrt(2), 1 / math.sqrt(3), 0.5])
    np.testing.assert_array_equal(InverseScaling(0).rates(3, BASE), [BASE] * 3)


def test_rates_shape_dtype_and_zero_epochs():
    rates = StepDecay(2).rates(7, BASE)
    assert rates.shape == (7,) and rates.dtype == np.float64
    assert StepDecay(2).rates(0, BASE).shape == (0,)


def test_rates_refused_for_dynamic_schedule():
    with pytest.raises(TypeError, match="not static"):
        ReduceLROnPlateau().rates(5, BASE)


# ----------------------------------------------------------- torch parity
def _torch_rates(make_scheduler, epochs=EPOCHS, base=BASE):
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=base)
    sched = make_scheduler(torch.optim.lr_scheduler, opt)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(rates)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (StepDecay(4, gamma=0.5), lambda m, o: m.StepLR(o, step_size=4, gamma=0.5)),
        (StepDecay(1, gamma=0.9), lambda m, o: m.StepLR(o, step_size=1, gamma=0.9)),
        (ExponentialDecay(0.9), lambda m, o: m.ExponentialLR(o, gamma=0.9)),
        (CosineAnnealing(8, 0.01), lambda m, o: m.CosineAnnealingLR(o, T_max=8, eta_min=0.01)),
        (CosineAnnealing(20), lambda m, o: m.CosineAnnealingLR(o, T_max=20)),
    ],
    ids=["step4", "step1", "exponential", "cosine-wraps", "cosine"],
)
def test_static_schedules_match_torch(ours, theirs):
    # torch updates multiplicatively/recursively, so allow rounding drift
    np.testing.assert_allclose(ours.rates(EPOCHS, BASE), _torch_rates(theirs), rtol=1e-9)


def _drive_plateau(sched, values, base=BASE):
    rates = []
    for epoch, value in enumerate(values):
        rates.append(sched.learning_rate(epoch, base))
        sched.update({"val_loss": value})
    return rates


def test_plateau_matches_torch_on_scripted_losses():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    # a noisy curve that improves, stalls, improves a little, stalls again
    values = np.concatenate([np.linspace(1, 0.5, 8), 0.5 + 0.01 * rng.random(30)])
    values[20] = 0.3
    kwargs = dict(factor=0.5, patience=3, cooldown=2, min_lr=0.02)
    ours = _drive_plateau(ReduceLROnPlateau(min_delta=1e-3, **kwargs), values)

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=BASE)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", threshold=1e-3, threshold_mode="abs", **kwargs
    )
    theirs = []
    for value in values:
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(float(value))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert min(ours) == 0.02  # the floor was reached, so min_lr was exercised


# --------------------------------------------------------- plateau logic
def test_plateau_starts_at_base_and_cuts_after_patience_bad_epochs():
    sched = ReduceLROnPlateau(factor=0.1, patience=2, min_delta=0.0)
    assert sched.learning_rate(0, 1.0) == 1.0
    assert sched.update({"val_loss": 1.0}) == 1.0  # first value is the baseline
    assert sched.update({"val_loss": 1.0}) == 1.0  # bad epoch 1: tolerated
    assert sched.update({"val_loss": 2.0}) == 1.0  # bad epoch 2: tolerated
    assert sched.update({"val_loss": 1.5}) == pytest.approx(0.1)  # bad epoch 3 > patience
    assert sched.learning_rate(4, 1.0) == pytest.approx(0.1)  # base_lr no longer matters


def test_plateau_patience_zero_cuts_at_first_bad_epoch():
    sched = ReduceLROnPlateau(factor=0.5, patience=0)
    assert _drive_plateau(sched, [1.0, 1.0, 0.5, 0.6]) == [BASE, BASE, BASE / 2, BASE / 2]
    assert sched.current_lr == BASE / 4


def test_plateau_improvement_resets_the_count():
    sched = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.0)
    rates = _drive_plateau(sched, [1.0, 1.1, 0.9, 1.0, 0.8, 0.85])
    assert rates == [BASE] * 6
    assert sched.current_lr == BASE  # never two bad epochs in a row


def test_plateau_min_delta_is_absolute_and_strict():
    sched = ReduceLROnPlateau(factor=0.5, patience=0, min_delta=0.1)
    sched.learning_rate(0, 1.0)
    sched.update({"val_loss": 1.0})
    # 0.95 is better, but not by more than min_delta: a bad epoch
    assert sched.update({"val_loss": 0.95}) == 0.5
    assert sched.best == 1.0
    assert sched.update({"val_loss": 0.85}) == 0.5  # better by 0.15: improvement
    assert sched.best == 0.85


def test_plateau_cooldown_ignores_bad_epochs():
    sched = ReduceLROnPlateau(factor=0.5, patience=0, cooldown=2, min_delta=0.0)
    rates = _drive_plateau(sched, [1.0] * 8, base=1.0)
    # cut after epoch 1, then 2 cooldown epochs, then a cut on the next bad one
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_plateau_respects_min_lr():
    sched = ReduceLROnPlateau(factor=0.1, patience=0, min_lr=0.003)
    rates = _drive_plateau(sched, [1.0] * 6, base=1.0)
    assert rates[:4] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    assert rates[4:] == [0.003, 0.003]
    assert sched.current_lr == 0.003


def test_plateau_mode_auto_is_max_for_accuracy():
    sched = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=0)
    assert sched.mode == "max"
    sched.learning_rate(0, 1.0)
    for acc in (0.5, 0.6, 0.7):
        assert sched.update({"val_accuracy": acc}) == 1.0  # rising accuracy is good
    assert sched.update({"val_accuracy": 0.65}) == 0.5


def test_plateau_reset_starts_a_new_fit():
    sched = ReduceLROnPlateau(factor=0.5, patience=0)
    _drive_plateau(sched, [1.0, 1.0, 1.0])
    assert sched.current_lr < BASE
    sched.reset()
    assert sched.learning_rate(0, 0.2) == 0.2
    assert sched.best == math.inf and sched.num_bad_epochs == 0


def test_plateau_missing_monitor_names_key_and_available_keys():
    sched = ReduceLROnPlateau()
    sched.learning_rate(0, 1.0)
    with pytest.raises(ValueError, match=r"monitor='val_loss'.*available keys: accuracy, loss"):
        sched.update({"loss": 0.1, "accuracy": 0.9})
    assert sched.num_bad_epochs == 0 and sched.best == math.inf  # nothing changed


def test_plateau_update_before_learning_rate_is_an_error():
    with pytest.raises(RuntimeError, match="learning_rate"):
        ReduceLROnPlateau().update({"val_loss": 1.0})


# ------------------------------------------------------------ get_schedule
@pytest.mark.parametrize(
    "name, cls",
    [
        (None, Constant),
        ("constant", Constant),
        ("step", StepDecay),
        ("exponential", ExponentialDecay),
        ("cosine", CosineAnnealing),
        ("invscaling", InverseScaling),
        ("plateau", ReduceLROnPlateau),
    ],
)
def test_get_schedule_names(name, cls):
    assert type(get_schedule(name, epochs=50)) is cls


def test_get_schedule_defaults():
    step = get_schedule("step")
    assert (step.step_size, step.gamma) == (30, 0.1)
    assert get_schedule("exponential").gamma == 0.95
    assert get_schedule("cosine", epochs=40).t_max == 40
    assert get_schedule("invscaling").power_t == 0.5
    assert get_schedule("plateau").is_static is False


def test_get_schedule_returns_instances_unchanged():
    sched = StepDecay(5)
    assert get_schedule(sched) is sched


def test_get_schedule_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="schedule='linear'.*" + ", ".join(SCHEDULES)):
        get_schedule("linear")


def test_get_schedule_wrong_type():
    with pytest.raises(TypeError, match="schedule must be None, a Schedule"):
        get_schedule(0.1)


def test_get_schedule_cosine_needs_epochs():
    with pytest.raises(ValueError, match="needs epochs"):
        get_schedule("cosine")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        get_schedule("cosine", epochs=0)


def test_base_schedule_is_abstract_and_static_flags():
    with pytest.raises(NotImplementedError):
        Schedule().learning_rate(0, 1.0)
    for sched in (Constant(), StepDecay(1), ExponentialDecay(0.5), CosineAnnealing(3)):
        assert sched.is_static is True
    assert InverseScaling().is_static is True


# -------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: StepDecay(0), ValueError, "step_size must be >= 1"),
        (lambda: StepDecay(2.5), TypeError, "step_size must be an int"),
        (lambda: StepDecay(True), TypeError, "step_size must be an int"),
        (lambda: StepDecay(3, gamma=0), ValueError, "gamma must be > 0"),
        (lambda: StepDecay(3, gamma="x"), TypeError, "gamma"),
        (lambda: ExponentialDecay(-0.5), ValueError, "gamma must be > 0"),
        (lambda: ExponentialDecay(math.inf), ValueError, "gamma must be > 0 and finite"),
        (lambda: CosineAnnealing(0), ValueError, "t_max must be >= 1"),
        (lambda: CosineAnnealing(10.0), TypeError, "t_max must be an int"),
        (lambda: CosineAnnealing(10, eta_min=-1), ValueError, "eta_min must be >= 0"),
        (lambda: InverseScaling(-0.1), ValueError, "power_t must be >= 0"),
        (lambda: InverseScaling(math.nan), ValueError, "power_t must be >= 0 and finite"),
        (lambda: ReduceLROnPlateau(factor=1.0), ValueError, "factor must be strictly between"),
        (lambda: ReduceLROnPlateau(factor=0), ValueError, "factor must be strictly between"),
        (lambda: ReduceLROnPlateau(factor=None), TypeError, "factor"),
        (lambda: ReduceLROnPlateau(patience=-1), ValueError, "patience must be >= 0"),
        (lambda: ReduceLROnPlateau(patience=1.5), TypeError, "patience must be an int"),
        (lambda: ReduceLROnPlateau(cooldown=-2), ValueError, "cooldown must be >= 0"),
        (lambda: ReduceLROnPlateau(min_lr=-1e-3), ValueError, "min_lr must be >= 0"),
        (lambda: ReduceLROnPlateau(min_delta=-1), ValueError, "min_delta must be >= 0"),
        (lambda: ReduceLROnPlateau(min_delta=math.inf), ValueError, "min_delta"),
        (lambda: ReduceLROnPlateau(mode="up"), ValueError, "mode='up'.*auto, min, max"),
        (lambda: ReduceLROnPlateau(monitor=3), TypeError, "monitor must be a str"),
        (lambda: Constant().rates(-1, 0.1), ValueError, "epochs must be >= 0"),
        (lambda: Constant().rates(3, 0), ValueError, "base_lr must be > 0"),
    ],
)
def test_bad_arguments_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()
