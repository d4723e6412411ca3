"""Every check of user input.

Each function either returns a clean value (a C-contiguous array of the
network's dtype, a canonical name, a Python number) or raises ``TypeError``
(wrong kind of thing) / ``ValueError`` (right kind, wrong value) with a
message naming the argument and what is allowed. Nothing here mutates
state, so a call that fails validation changes nothing.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._codes import ACTIVATION_CODES, ALLOWED_OUTPUTS, LOSS_CODES, NATURAL_OUTPUT

INITS = ("he", "xavier", "glorot_uniform", "lecun", "small")
BACKENDS = ("numba", "numpy")
DTYPES = ("float32", "float64")
OUTPUTS = ("identity", "sigmoid", "softmax", "exp")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_name(value, allowed, argument: str) -> str:
    """A string among ``allowed``."""
    if not isinstance(value, str):
        raise TypeError(
            f"{argument} must be a string, one of {', '.join(allowed)}; got {type(value).__name__}"
        )
    if value not in allowed:
        raise ValueError(f"{argument}={value!r} is not valid; allowed: {', '.join(allowed)}")
    return value


def check_layer_sizes(layer_sizes) -> tuple[int, ...]:
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(
            "layer_sizes must be a list of at least 2 positive ints "
            f"[n_features, hidden..., n_outputs]; got {type(layer_sizes).__name__}"
        )
    sizes = list(layer_sizes)
    for size in sizes:
        if not _is_int(size):
            raise TypeError(f"layer_sizes must contain ints; got {size!r} in {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least 2 entries [n_features, ..., n_outputs]; got {sizes!r}"
        )
    if any(size < 1 for size in sizes):
        raise ValueError(f"layer_sizes must all be positive; got {sizes!r}")
    return tuple(int(size) for size in sizes)


def check_activation(activation, n_hidden: int) -> tuple[str, ...]:
    names = tuple(ACTIVATION_CODES)
    if isinstance(activation, str):
        return (check_name(activation, names, "activation"),) * n_hidden
    if not isinstance(activation, (list, tuple)):
        raise TypeError(
            "activation must be a name or a list with one name per hidden layer; "
            f"got {type(activation).__name__}"
        )
    if len(activation) != n_hidden:
        raise ValueError(
            f"activation lists {len(activation)} names but the network has "
            f"{n_hidden} hidden layers; give one name per hidden layer"
        )
    return tuple(check_name(a, names, f"activation[{i}]") for i, a in enumerate(activation))


def check_loss_and_output(loss, output, n_outputs: int) -> tuple[str, str]:
    loss = check_name(loss, tuple(LOSS_CODES), "loss")
    if output is None:
        output = NATURAL_OUTPUT[loss]
    output = check_name(output, OUTPUTS, "output")
    if output not in ALLOWED_OUTPUTS[loss]:
        raise ValueError(
            f"output={output!r} contradicts loss={loss!r}; "
            f"allowed outputs for {loss}: {', '.join(ALLOWED_OUTPUTS[loss])}"
        )
    if loss == "cross_entropy" and n_outputs < 2:
        raise ValueError(
            "loss='cross_entropy' needs at least 2 outputs (softmax over one class is "
            "constant); use loss='binary_cross_entropy' for a single output"
        )
    return loss, output


def check_init(init):
    if init is None:
        return None
    return check_name(init, INITS, "init")


def check_dtype(dtype) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is not valid; allowed: {', '.join(DTYPES)}")
    return resolved


def check_seed(seed):
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed
    if not _is_int(seed):
        raise TypeError(f"seed must be None or a non-negative int; got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed}")
    return int(seed)


def check_positive_float(value, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a positive finite number; got {value!r}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{argument} must be > 0 and finite; got {value!r}")
    return value


def check_non_negative_float(value, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a finite number >= 0; got {value!r}")
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{argument} must be >= 0 and finite; got {value!r}")
    return value


def check_count(value, argument: str, minimum: int) -> int:
    if not _is_int(value):
        raise TypeError(f"{argument} must be an int >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{argument} must be >= {minimum}; got {value}")
    return int(value)


def check_bool(value, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{argument} must be True or False; got {value!r}")
    return bool(value)


def _as_numeric_array(values, argument: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise ValueError(f"{argument} could not be read as an array: {error}") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"{argument} must hold real numbers; got dtype {array.dtype}")
    return array


def is_ready_small_X(X, n_features: int, dtype: np.dtype, max_rows: int) -> bool:
    """Whether ``X`` is already a C-contiguous ``(n, n_features)`` array of
    ``dtype`` with 1 <= n <= ``max_rows``: the online-predict fast path,
    which leaves only the finiteness check."""
    return (
        type(X) is np.ndarray
        and X.dtype == dtype
        and X.ndim == 2
        and X.flags.c_contiguous
        and X.flags.writeable  # see _compilable
        and X.flags.aligned
        and 0 < X.shape[0] <= max_rows
        and X.shape[1] == n_features
    )


def non_finite_X_error(dtype: np.dtype) -> ValueError:
    return ValueError(f"X contains NaN or inf (after conversion to {dtype.name})")


def check_X(X, n_features: int, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous ``(n, n_features)`` array of ``dtype`` with finite values."""
    array = _as_numeric_array(X, "X")
    if array.ndim != 2:
        hint = " (use X.reshape(1, -1) for a single sample)" if array.ndim == 1 else ""
        raise ValueError(
            f"X must be 2-D (n_samples, {n_features}); got {array.ndim}-D shape {array.shape}{hint}"
        )
    if array.shape[0] == 0:
        raise ValueError("X is empty: it needs at least one sample (row)")
    if array.shape[1] != n_features:
        raise ValueError(
            f"X has {array.shape[1]} features (columns) but the network expects {n_features}"
        )
    array = _compilable(np.ascontiguousarray(array, dtype=dtype))
    if not _all_finite(array):
        raise non_finite_X_error(dtype)
    return array


def _compilable(array: np.ndarray) -> np.ndarray:
    """``array``, or a writeable copy of a read-only one.

    A read-only array (a memmap opened with ``"r"``, or what joblib hands
    the workers of ``GridSearchCV(n_jobs=...)``) is a different Numba type
    from a writeable one, so passing it would compile every kernel again for
    that type: about 35 s on this machine, measured. The kernels only read
    their inputs, but Numba cannot be told so; a copy is cheaper. So is an
    unaligned array (``np.frombuffer`` at an odd offset).
    """
    return array if array.flags.writeable and array.flags.aligned else array.copy()


def _all_finite(array: np.ndarray) -> bool:
    if array.size <= 4096:  # one call is cheapest for small inputs (predict)
        return bool(np.isfinite(array).all())
    # min and max propagate NaN and expose +-inf, in two passes that
    # allocate nothing (np.isfinite(X).all() builds an n x d bool array)
    return bool(np.isfinite(array.min()) and np.isfinite(array.max()))


def check_targets(y, n_samples: int, loss: str, n_outputs: int, dtype: np.dtype) -> np.ndarray:
    """Dense ``(n, n_outputs)`` targets of ``dtype``: one-hot for labels."""
    array = _as_numeric_array(y, "y")
    if array.ndim == 0 or array.ndim > 2:
        raise ValueError(f"y must be 1-D or 2-D; got shape {array.shape}")
    if array.shape[0] != n_samples:
        raise ValueError(f"y has {array.shape[0]} rows but X has {n_samples}; they must match")
    if not np.isfinite(array).all():
        raise ValueError("y contains NaN or inf")
    if loss == "cross_entropy":
        if array.ndim == 1 or array.shape[1] == 1:
            return _one_hot(array.reshape(-1), n_outputs, dtype)
        if array.shape[1] != n_outputs:
            raise ValueError(
                f"y has {array.shape[1]} columns but the network has {n_outputs} outputs; "
                "give int labels (n,) or class probabilities (n, n_outputs)"
            )
        if (array < 0).any() or (array > 1).any():
            raise ValueError("y holds class probabilities, which must lie in [0, 1]")
        if not np.allclose(array.sum(axis=1), 1.0, rtol=0, atol=1e-4):
            raise ValueError("y holds class probabilities, so every row must sum to 1")
        return _in_dtype(array, dtype, "y")
    if array.ndim == 1:
        if n_outputs != 1:
            raise ValueError(
                f"y is 1-D but the network has {n_outputs} outputs; give y as (n, {n_outputs})"
            )
        array = array.reshape(-1, 1)
    if array.shape[1] != n_outputs:
        raise ValueError(f"y has {array.shape[1]} columns but the network has {n_outputs} outputs")
    if loss == "binary_cross_entropy" and ((array < 0).any() or (array > 1).any()):
        raise ValueError("y for binary_cross_entropy must hold 0/1 labels or values in [0, 1]")
    if loss == "poisson" and (array < 0).any():
        raise ValueError("y for poisson must hold counts or rates >= 0")
    return _in_dtype(array, dtype, "y")


def _in_dtype(array: np.ndarray, dtype: np.dtype, argument: str) -> np.ndarray:
    """``array`` as a C-contiguous array of ``dtype``, whose values must
    stay finite there (1e39 is a finite float64 but inf in float32)."""
    with np.errstate(over="ignore"):
        converted = _compilable(np.ascontiguousarray(array, dtype=dtype))
    if not np.isfinite(converted).all():
        raise ValueError(
            f"{argument} holds values too large for the network's dtype {dtype.name} "
            f"(largest finite: {np.finfo(dtype).max:g})"
        )
    return converted


def _one_hot(labels: np.ndarray, n_classes: int, dtype: np.dtype) -> np.ndarray:
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        raise ValueError("y labels must be whole numbers (class indices); got fractional values")
    if (labels < 0).any() or (labels >= n_classes).any():
        raise ValueError(
            f"y labels must lie in [0, {n_classes}) for {n_classes} outputs; "
            f"got values from {labels.min():g} to {labels.max():g}"
        )
    one_hot = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    one_hot[np.arange(labels.shape[0]), labels.astype(np.int64)] = 1
    return one_hot


def check_sample_weight(
    sample_weight, n_samples: int, dtype: np.dtype, argument: str = "sample_weight"
) -> np.ndarray:
    """Per-row weights as a C-contiguous ``(n, 1)`` array; ones for ``None``.
    ``argument`` names them in errors."""
    if sample_weight is None:
        return np.ones((n_samples, 1), dtype=dtype)
    array = _as_numeric_array(sample_weight, argument)
    if array.ndim != 1 or array.shape[0] != n_samples:
        raise ValueError(
            f"{argument} must be 1-D with one weight per row ({n_samples}); got shape {array.shape}"
        )
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{argument} must be finite and >= 0")
    weights = _in_dtype(array.reshape(-1, 1), dtype, argument)
    # in the network's dtype: 1e-50 is a positive float64 but 0 in float32
    if not weights.sum(dtype=np.float64) > 0:
        raise ValueError(
            f"{argument} must have a positive sum; every weight is zero "
            f"(in the network's dtype {dtype.name})"
        )
    return weights


def check_fraction(value, argument: str) -> float:
    value = check_positive_float(value, argument)
    if value >= 1:
        raise ValueError(f"{argument} must lie in (0, 1); got {value}")
    return value


def check_dropout(dropout, n_hidden: int) -> np.ndarray:
    """One dropout rate in [0, 1) per hidden layer, as float64."""
    if isinstance(dropout, np.ndarray) and dropout.ndim == 0:
        dropout = dropout.item()  # a 0-d array is one rate, like a scalar
    rates = (
        list(dropout) if isinstance(dropout, (list, tuple, np.ndarray)) else [dropout] * n_hidden
    )
    if len(rates) != n_hidden:
        raise ValueError(
            f"dropout lists {len(rates)} rates but the network has {n_hidden} hidden layers"
        )
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise TypeError(f"dropout rates must be numbers in [0, 1); got {rate!r}")
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rates must lie in [0, 1); got {rate!r}")
    return np.array(rates, dtype=np.float64)
