"""normalize_image: ``(x / 255 - mean) / std`` per channel, for every memory layout, as a new tensor."""

from __future__ import annotations

import pytest
import torch

from iim.ops import normalize_image

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _reference(image: torch.Tensor) -> torch.Tensor:
    m = torch.tensor([255.0 * v for v in MEAN]).view(-1, 1, 1)
    s = torch.tensor([1.0 / (255.0 * v) for v in STD]).view(-1, 1, 1)
    return (image.to(torch.float32) - m) * s


def _layouts() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "channels-last batch": torch.randint(0, 256, (2, 17, 23, 3), dtype=torch.uint8, generator=g).permute(
            0, 3, 1, 2
        ),
        "contiguous batch": torch.randint(0, 256, (2, 3, 17, 23), dtype=torch.uint8, generator=g),
        "interleaved image": torch.randint(0, 256, (17, 23, 3), dtype=torch.uint8, generator=g).permute(2, 0, 1),
        "contiguous image": torch.randint(0, 256, (3, 17, 23), dtype=torch.uint8, generator=g),
        "strided batch": torch.randint(0, 256, (1, 3, 17, 46), dtype=torch.uint8, generator=g)[..., ::2],
        "float channels-last": (torch.rand(1, 9, 11, 3, generator=g) * 255).permute(0, 3, 1, 2),
    }


@pytest.mark.parametrize("name", list(_layouts()))
def test_every_layout_gives_the_formula_exactly_in_new_memory(name):
    image = _layouts()[name]
    before = image.clone()
    out = normalize_image(image, MEAN, STD)
    assert out.dtype == torch.float32 and out.shape == image.shape
    assert torch.equal(out, _reference(image))  # the same arithmetic, element for element
    assert out.data_ptr() != image.data_ptr() and torch.equal(image, before)  # the input is never written
    if image.dim() == 4 and image.is_contiguous(memory_format=torch.channels_last):
        assert out.is_contiguous(memory_format=torch.channels_last)  # the layout is kept for the network


def test_pixel_values_and_errors():
    white = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    expected = torch.tensor([(1 - m) / s for m, s in zip(MEAN, STD)])
    assert torch.allclose(normalize_image(white, MEAN, STD)[0, :, 0, 0], expected, atol=1e-5)
    assert normalize_image(white, MEAN, STD, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match=r"C = len\(mean\) = len\(std\) = 3"):
        normalize_image(torch.zeros(1, 4, 2, 2), MEAN, STD)
    with pytest.raises(ValueError, match="every std must be > 0"):
        normalize_image(white, MEAN, (0.2, 0.0, 0.2))


def test_fresh_strides_for_a_numpy_view_batch():
    # rgb[None] from numpy has a batch stride of 0; the output gets the strides of a proper channels-last tensor
    import numpy as np

    rgb = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = torch.from_numpy(rgb[None]).permute(0, 3, 1, 2)
    out = normalize_image(image, MEAN, STD)
    assert out.stride() == torch.empty(1, 3, 6, 8).contiguous(memory_format=torch.channels_last).stride()
    assert torch.equal(out, _reference(image))
