"""float64 on request: importing meanclust_jax leaves JAX's precision alone.

The mean-cluster ODE and everything differentiated through it (the rate loss ``F(K)``, its
multistart and posteriors, the SA fit, the closure calibration) needs 64-bit floats: in float32
the gradients through diffrax's solve turn NaN and the step counts run away. JAX computes in
float32 unless ``jax_enable_x64`` is on, a switch for the whole process, so it is the user's
decision: `enable_float64` makes it in one documented call (the ``meanclust`` command and
`meanclust_jax.study.run_study` make it themselves), and the functions that need float64 call
`require_float64` first, which refuses to run in float32 with a message saying what to do.
The annealing engine uses explicit int8/int32/float32 dtypes and runs the same either way.
"""

from __future__ import annotations


def enable_float64() -> None:
    """Switch JAX to 64-bit floats and integers (``jax_enable_x64``) for this process.

    Call it once, at the start of a program or notebook, before creating JAX arrays (arrays
    created earlier stay 32-bit). Needed by `meanclust_jax.solve_pairs`, the rate inference
    (`make_problem`, `multistart`, `infer_rates`, `infer_sparse`, `sample_posterior`),
    `fit_sparse` and `fit_optimal_closure`; the annealing engine does not need it. Equivalent to
    ``jax.config.update("jax_enable_x64", True)``.

    **Example:**

    ```python
    import meanclust_jax as mc

    mc.enable_float64()
    ```
    """
    import jax

    jax.config.update("jax_enable_x64", True)


def float64_enabled() -> bool:
    """Whether JAX computes in 64 bits here and now (``jax_enable_x64``, including a
    ``jax.enable_x64`` context)."""
    import jax

    return bool(jax.config.jax_enable_x64)


def require_float64(what: str) -> None:
    """Raise unless float64 is on; called (at call or trace time) by the functions that need it.

    **Arguments:**

    - `what`: the function or computation, named in the message (e.g. ``"solve_pairs"``).

    **Raises:**

    - `RuntimeError` saying to call ``meanclust_jax.enable_float64()`` first.
    """
    if not float64_enabled():
        raise RuntimeError(
            f"{what} needs float64 (the mean-cluster ODE and its gradients are unreliable in "
            "float32), but JAX is in 32-bit mode: call meanclust_jax.enable_float64() once at "
            "the start of your program, before creating JAX arrays"
        )
