"""Garment colour features: the colour of a crop's garment pixels, not its background or skin.

A soft histogram in CIE Lab (hue x lightness x chroma for chromatic pixels, lightness alone for
grey ones) of the crop's garment pixels: the studio background (near-white, touching the border),
a street background (pixels like the crop's border, touching it), skin-coloured pixels and the
corners (a centre prior) are weighed down. A cut-out crop (RGBA, core/segment.py) carries the
garment's segmentation mask as alpha: then its mask pixels alone count. `colour_bands` adds the histograms of the top, middle
and bottom thirds. The embedding head (core.head) reads these features and appends the whole-crop
histogram to its vector; `lookbot eval` names colours in the same Lab space.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PIL import Image

COLOUR_VERSION = "lab78x4-v5"  # bump when colour_histogram changes (cached histograms)
COLOUR_SIDE = 64  # crops are shrunk to this longer side before the histogram
MAX_BACKGROUND_SHARE = 0.7  # a larger border-like region is taken to be the garment itself
HUE_BINS = 12
CHROMA_CENTRES = (25.0, 55.0)
LIGHT_CENTRES = (25.0, 50.0, 75.0)
GREY_BINS = 6
GREY_CHROMA = (4.0, 10.0)  # chroma below the first: grey; above the second: chromatic
COLOUR_DIM = HUE_BINS * len(LIGHT_CENTRES) * len(CHROMA_CENTRES) + GREY_BINS
BANDS = 3
COLOUR_FEATURE_DIM = COLOUR_DIM * (1 + BANDS)


def _linearise(c: np.ndarray) -> np.ndarray:
    """sRGB values (0..1, float32) to linear light."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# Every uint8 level linearised by the same float32 arithmetic: a lookup gives identical values.
_LINEAR_LEVELS = _linearise(np.arange(256, dtype=np.float32) / 255.0)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB to CIE Lab (D65)."""
    if rgb.dtype == np.uint8:
        c = _LINEAR_LEVELS[rgb]
    else:
        c = _linearise(rgb.astype(np.float32) / 255.0)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                  [0.0193, 0.1192, 0.9505]], dtype=np.float32)
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1)


def border_connected(mask: np.ndarray) -> np.ndarray:
    """The parts of a boolean mask that touch the image border."""
    from scipy import ndimage

    if not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()):
        return np.zeros(mask.shape, dtype=bool)  # nothing on the border: no need to label
    labels, n = ndimage.label(mask)
    touching = np.zeros(n + 1, dtype=bool)
    touching[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    touching[0] = False
    return touching[labels]


def skin_likelihood(rgb: np.ndarray) -> np.ndarray:
    """Soft skin mask from the classic YCrCb box (Chai & Ngan), 0..1."""
    c = rgb.astype(np.float32)
    y = 0.299 * c[..., 0] + 0.587 * c[..., 1] + 0.114 * c[..., 2]
    cr = (c[..., 0] - y) * 0.713 + 128.0
    cb = (c[..., 2] - y) * 0.564 + 128.0
    inside = (cr > 138) & (cr < 173) & (cb > 77) & (cb < 127) & (y > 60)
    return inside.astype(np.float32)


def border_background(lab: np.ndarray, tolerance: float = 5.0, samples: int = 96
                      ) -> np.ndarray:
    """Pixels like some border pixel (CIE76 < tolerance) and connected to the border."""
    h, w = lab.shape[:2]
    ring = np.concatenate([lab[0], lab[-1], lab[1:-1, 0], lab[1:-1, -1]])
    if len(ring) > samples:
        ring = ring[np.linspace(0, len(ring) - 1, samples).astype(np.int64)]
    flat = lab.reshape(-1, 3).astype(np.float32, copy=False)
    ring = ring.astype(np.float32)
    # |x - r|^2 = |x|^2 - 2 x.r + |r|^2, one small matrix product instead of a broadcast
    d2 = (2.0 * flat) @ ring.T
    np.subtract((flat * flat).sum(1)[:, None], d2, out=d2)  # in place: the same arithmetic
    d2 += (ring * ring).sum(1)[None, :]
    near = (d2 < tolerance ** 2).any(1)  # the nearest ring pixel is within the tolerance
    return border_connected(near.reshape(h, w))


def garment_weights(rgb: np.ndarray, lab: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-pixel weight that the pixel belongs to the garment, for an (h, w, 3) crop.

    Studio background (near-white, touching the border) is dropped; a street background
    (pixels like the crop's border, touching it) is dropped unless it would take most of
    the crop (a tight box whose border is the garment itself); skin is weighed down, and a
    centre prior weighs down the corners.
    """
    h, w = rgb.shape[:2]
    lab = srgb_to_lab(rgb) if lab is None else lab
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    centre = np.exp(-0.5 * ((xs[None, :] / 0.35) ** 2 + (ys[:, None] / 0.35) ** 2))
    weight = centre.astype(np.float32).copy()
    studio = border_connected(rgb.min(axis=2) >= 225)
    weight[studio] = 0.0
    background = border_background(lab) & ~studio
    share = background.mean()
    if share < MAX_BACKGROUND_SHARE:
        weight[background] = 0.0
    else:
        weight[background] *= 0.3
    weight *= 1.0 - 0.8 * skin_likelihood(rgb)
    if weight.sum() < 0.02 * centre.sum():  # nothing left: a white garment on white, say
        weight = centre
    return weight


def _soft_1d(values: np.ndarray, centres: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation between neighbouring bin centres: (low index, high index, high weight)."""
    centres = np.asarray(centres, dtype=np.float32)
    v = np.clip(values, centres[0], centres[-1])
    hi = np.clip(np.searchsorted(centres, v, side="right"), 1, len(centres) - 1)
    lo = hi - 1
    t = (v - centres[lo]) / np.maximum(centres[hi] - centres[lo], 1e-6)
    return lo, hi, t.astype(np.float32)


def _prepare(image: Image.Image) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """RGB and Lab of the shrunk crop, and its alpha (0..1) when the crop carries a garment mask."""
    alpha = None
    if image.mode == "RGBA":  # a cut-out (core/segment.py): alpha is the garment's mask
        image, alpha_image = image.convert("RGB"), image.getchannel("A")
    else:
        image, alpha_image = image.convert("RGB"), None
    w, h = image.size
    scale = COLOUR_SIDE / max(w, h, 1)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = image.resize(size, Image.BILINEAR)
        alpha_image = alpha_image.resize(size, Image.BILINEAR) if alpha_image is not None else None
    rgb = np.asarray(image)
    if alpha_image is not None:
        alpha = np.asarray(alpha_image, dtype=np.float32) / 255.0
    return rgb, srgb_to_lab(rgb), alpha


def pixel_weights(rgb: np.ndarray, lab: np.ndarray, alpha: Optional[np.ndarray]) -> np.ndarray:
    """The mask's own pixels when the crop has one (an edge pixel blended with the white outside
    counts only when mostly garment), else `garment_weights`' estimate."""
    if alpha is not None:
        mask = (alpha >= 0.75).astype(np.float32)
        if mask.sum() >= 0.02 * mask.size:
            return mask
    return garment_weights(rgb, lab)


def colour_histogram(image: Image.Image) -> np.ndarray:
    """COLOUR_DIM-d Hellinger-normalised (unit L2) colour histogram of the garment pixels."""
    rgb, lab, alpha = _prepare(image)
    return weighted_histogram(lab, pixel_weights(rgb, lab, alpha))


def colour_bands(image: Image.Image) -> np.ndarray:
    """The garment histogram of the whole crop, then of its top, middle and bottom thirds
    (COLOUR_FEATURE_DIM values): a catalog shot on a model shows the product in one band."""
    return colour_features([image])[0]


def _garment_pixels(image: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A crop's (pixels, 3) Lab, its pixels' garment weights (float32) and their bands (0..2)."""
    rgb, lab, alpha = _prepare(image)
    weight = pixel_weights(rgb, lab, alpha)
    h, w = rgb.shape[:2]
    band = np.minimum((np.arange(h) * BANDS) // max(h, 1), BANDS - 1)
    return lab.reshape(-1, 3), weight.ravel().astype(np.float32), np.repeat(band, w)


def weighted_histogram(lab: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Soft Lab histogram of an (h, w, 3) Lab image with per-pixel weights, unit L2."""
    return _finish(_soft_histograms(lab, weight, np.zeros(weight.size, np.int64), 1)[0])


def _finish(hist: np.ndarray) -> np.ndarray:
    """Hellinger normalisation (unit L2); an empty histogram becomes the uniform one."""
    total = hist.sum()
    if total <= 0:
        return np.full(COLOUR_DIM, 1.0 / np.sqrt(COLOUR_DIM), dtype=np.float32)
    return np.sqrt(hist / total).astype(np.float32)


def _soft_histograms(lab: np.ndarray, weight: np.ndarray, group: np.ndarray, n_groups: int
                     ) -> np.ndarray:
    """(n_groups, COLOUR_DIM) raw soft histograms: pixel i adds to row group[i]."""
    weight = weight.ravel().astype(np.float32)
    lab = lab.reshape(-1, 3)
    offset = np.asarray(group, dtype=np.int64) * COLOUR_DIM
    size = n_groups * COLOUR_DIM
    L, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma = np.hypot(a, b)
    grey = np.clip((GREY_CHROMA[1] - chroma) / (GREY_CHROMA[1] - GREY_CHROMA[0]), 0.0, 1.0)
    hist = np.zeros(size, dtype=np.float64)
    # grey pixels: lightness only
    g_lo, g_hi, g_t = _soft_1d(L, np.linspace(0, 100, GREY_BINS))
    base = HUE_BINS * len(LIGHT_CENTRES) * len(CHROMA_CENTRES)
    wg = weight * grey
    hist += np.bincount(offset + base + g_lo, wg * (1 - g_t), size)
    hist += np.bincount(offset + base + g_hi, wg * g_t, size)
    # chromatic pixels: hue (circular) x lightness x chroma
    wc = weight * (1.0 - grey)
    hue = (np.arctan2(b, a) % (2 * np.pi)) / (2 * np.pi) * HUE_BINS
    h_lo = np.floor(hue).astype(np.int64) % HUE_BINS
    h_hi = (h_lo + 1) % HUE_BINS
    h_t = (hue - np.floor(hue)).astype(np.float32)
    l_lo, l_hi, l_t = _soft_1d(L, LIGHT_CENTRES)
    c_lo, c_hi, c_t = _soft_1d(chroma, CHROMA_CENTRES)
    nl, nc = len(LIGHT_CENTRES), len(CHROMA_CENTRES)
    # the products as wc * hw * lw * cw, left to right, with the shared factors formed once
    lights, chromas = ((l_lo, 1 - l_t), (l_hi, l_t)), ((c_lo, 1 - c_t), (c_hi, c_t))
    for hi_, hw in ((h_lo, 1 - h_t), (h_hi, h_t)):
        w_h, i_h = wc * hw, offset + hi_ * (nl * nc)
        for li, lw in lights:
            w_hl, i_hl = w_h * lw, i_h + li * nc
            for ci, cw in chromas:
                hist += np.bincount(i_hl + ci, w_hl * cw, size)
    return hist.reshape(n_groups, COLOUR_DIM)


def colour_features(crops: Sequence[Image.Image]) -> np.ndarray:
    """(n, COLOUR_FEATURE_DIM): per crop, `colour_bands` (the first COLOUR_DIM: whole crop).

    One pass of soft binning for every band of every crop (crop i's band b is row i*BANDS+b):
    each row sums the same pixels in the same order as a crop on its own would.
    """
    if not crops:
        return np.zeros((0, COLOUR_FEATURE_DIM), dtype=np.float32)
    labs, weights, groups = zip(*(_garment_pixels(c) for c in crops))
    offsets = [g + i * BANDS for i, g in enumerate(groups)]
    bands = _soft_histograms(np.concatenate(labs), np.concatenate(weights),
                             np.concatenate(offsets), len(crops) * BANDS)
    return np.stack([_band_features(bands[i:i + BANDS]) for i in range(0, len(bands), BANDS)])


def _band_features(bands: np.ndarray) -> np.ndarray:
    """A crop's (BANDS, COLOUR_DIM) raw histograms to its features: the whole crop's (their sum),
    then each band's, normalised."""
    return np.concatenate([_finish(bands.sum(0))] + [_finish(b) for b in bands])
