"""Instance spaces: random samples and decoded arbitrary box points are valid instances; bad arguments are
rejected with the parameter's name; the adversarial search stays inside the space."""

from __future__ import annotations

import numpy as np
import pytest

from boundlab.errors import UsageError
from boundlab.search import maximise_violation, violation
from boundlab.spaces import PSD, Box, Product, RowStochastic, Simplex, Space, Sphere


def _box_points(space: Space, rng: np.random.Generator, n: int = 50) -> np.ndarray:
    """Arbitrary points of the box, including its corners and the origin (Sphere's degenerate point)."""
    z = rng.uniform(space.low, space.high, size=(n, space.dim))
    return np.vstack([z, space.low, space.high, np.zeros(space.dim).clip(space.low, space.high)])


def _check_simplex_rows(p: np.ndarray) -> None:
    assert np.all(p >= 0) and np.all(p > 0), "the space covers the interior of the simplex"
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


SPACES: dict[str, Space] = {
    "box": Box(-2.0, 3.0, shape=(4, 2)),
    "simplex": Simplex(7),
    "row-stochastic": RowStochastic(rows=3, cols=5),
    "sphere": Sphere(d=6, radius=2.5),
    "psd": PSD(d=5, eig_low=0.2, eig_high=4.0),
}


def _valid(name: str, x: np.ndarray) -> None:
    if name == "box":
        assert x.shape[1:] == (4, 2) and np.all((x >= -2) & (x <= 3))
    elif name == "simplex":
        assert x.shape[1:] == (7,)
        _check_simplex_rows(x)
    elif name == "row-stochastic":
        assert x.shape[1:] == (3, 5)
        _check_simplex_rows(x)
    elif name == "sphere":
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 2.5, rtol=1e-12)
    elif name == "psd":
        np.testing.assert_allclose(x, np.swapaxes(x, 1, 2), atol=1e-12)
        eig = np.linalg.eigvalsh(x)
        assert np.all(eig >= 0.2 - 1e-10) and np.all(eig <= 4.0 + 1e-10), eig


@pytest.mark.parametrize("name", list(SPACES))
def test_samples_are_valid_and_inside_the_box(name: str) -> None:
    space = SPACES[name]
    z = space.sample(np.random.default_rng(1), 200)
    assert z.shape == (200, space.dim)
    assert np.all(z >= space.low) and np.all(z <= space.high)
    _valid(name, space.decode(z))


@pytest.mark.parametrize("name", list(SPACES))
def test_decode_of_arbitrary_box_points_is_valid(name: str) -> None:
    space = SPACES[name]
    _valid(name, space.decode(_box_points(space, np.random.default_rng(2))))


def test_sphere_origin_and_uniform_directions() -> None:
    space = Sphere(d=3)
    np.testing.assert_array_equal(space.decode(np.zeros((1, 3))), [[1.0, 0.0, 0.0]])
    x = space.decode(space.sample(np.random.default_rng(0), 20000))
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=0.03)  # uniform on the sphere: mean zero


def test_psd_covers_the_stated_spectrum() -> None:
    space = PSD(d=3, eig_low=1.0, eig_high=2.0)
    z = np.concatenate([[0.0, 1.0, 0.5], [0.3, -2.0, 3.0]])[None, :]
    np.testing.assert_allclose(np.linalg.eigvalsh(space.decode(z))[0], [1.0, 1.5, 2.0], atol=1e-12)


def test_product_decodes_to_a_dict_in_order_and_uses_custom_samplers() -> None:
    def dirichlet_logits(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.clip(np.log(rng.dirichlet(np.full(4, 2.0), size=n) * 4), -6.0, 2.0)

    space = Product(x=Box(0.0, 1.0, shape=2), p=Simplex(4, -6.0, 2.0, sampler=dirichlet_logits))
    assert space.dim == 6
    z = space.sample(np.random.default_rng(3), 10)
    rng = np.random.default_rng(3)
    expected = np.concatenate([rng.uniform(0, 1, size=(10, 2)), dirichlet_logits(rng, 10)], axis=1)
    np.testing.assert_array_equal(z, expected)  # components drawn in order from one generator
    out = space.decode(z)
    assert set(out) == {"x", "p"} and out["x"].shape == (10, 2)
    _check_simplex_rows(out["p"])


def test_sampler_outside_the_box_is_rejected() -> None:
    space = Box(0.0, 1.0, shape=3, sampler=lambda rng, n: np.full((n, 3), 2.0))
    with pytest.raises(UsageError, match="outside the box"):
        space.sample(np.random.default_rng(0), 4)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: Box(1.0, 0.0, shape=2), "lower"),
        (lambda: Box(0.0, float("inf")), "finite"),
        (lambda: Box(0.0, 1.0, shape=0), "shape"),
        (lambda: Simplex(0), "n must"),
        (lambda: Simplex(3, 2.0, -2.0), "logit_low"),
        (lambda: RowStochastic(rows=0, cols=3), "rows"),
        (lambda: RowStochastic(rows=2, cols=-1), "cols"),
        (lambda: Sphere(d=3, radius=0.0), "radius"),
        (lambda: Sphere(d=2.5), "d must"),
        (lambda: PSD(d=3, eig_low=-1.0, eig_high=1.0), "eig_low"),
        (lambda: PSD(d=3, eig_low=2.0, eig_high=1.0), "eig_low"),
        (lambda: Product(), "at least one"),
        (lambda: Product(a=np.zeros(3)), "'a' must be a Space"),
    ],
)
def test_bad_arguments_name_the_parameter(make, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        make()


@pytest.mark.parametrize("name", list(SPACES))
def test_search_stays_inside_the_space(name: str) -> None:
    """Every coordinate vector the search evaluates lies in the box and decodes to a valid instance."""
    space = SPACES[name]
    rng = np.random.default_rng(4)
    target = rng.standard_normal(space.dim)
    seen: list[np.ndarray] = []

    def score(z: np.ndarray) -> tuple[np.ndarray, ...]:
        seen.append(z.copy())
        _valid(name, space.decode(z))
        f = z @ target  # pushes the search against the faces of the box
        return violation(f, 1e9, "<=", 0.0), f - 1e9, f, np.full(len(z), 1e9)

    maximise_violation(score, space.low, space.high, space.sample(rng, 2), 20, rng)
    z = np.vstack(seen)
    assert z.shape[0] > 10 * space.dim
    assert np.all(z >= space.low) and np.all(z <= space.high)
