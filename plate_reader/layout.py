"""The classical finder's plate-likeness test of a region, before any recognition call: a
plate is a row of 2-9 characters over a small centred expiry line on a scheme-coloured
body; signs and badges lack the expiry line, so only regions like this are read."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
Stats = tuple[int, int, int, int]
# A region whose text band is over twice this height (px) is measured shrunk to it.
_WORK_HEIGHT = 36
# Counted from widths, wide letters make a 9-character plate count 10 or 11.
_MOST_CHARACTERS = 11
# Share of a long row's width the expiry may sit off its middle (docs/plate_reader.md).
_OFF_CENTRE = 0.15
# Band width (px) from which a plate tilted ~3 degrees breaks its rim into short runs.
_TILT_BROKEN = 80
# An expiry line or the plate's body under a row; ``plates.MIN_PLATENESS`` is the same.
MIN_PLATE_LIKE = 0.75
# A window as tall as a whole plate on dark paint joins the characters into blobs.
_FINER_BLOCK = 0.4


@dataclass(frozen=True, slots=True)
class LineLayout:
    """The main line found in a region; ``plateness`` 0..1 weighs the expiry line most."""

    box: Box
    characters: int
    expiry: bool
    plateness: float


def _median(values: list[int]) -> float:
    """`np.median` of a few values without its overhead per call."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _grey_median(pixels: Image) -> float:
    """`np.median` of ``pixels`` at a fraction of its cost."""
    flat = pixels.ravel()
    mid = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, mid)[mid])
    pair = np.partition(flat, (mid - 1, mid))
    return (int(pair[mid - 1]) + int(pair[mid])) / 2


def _rows(chars: list[Stats]) -> list[list[Stats]]:
    """Chains of components of one height, each near the last (keeps a tilted row together)."""
    ordered = sorted(chars, key=lambda c: c[0])
    rows: list[list[Stats]] = []
    for start, anchor in enumerate(ordered):
        if any(anchor in row for row in rows):
            continue
        row = [anchor]
        for other in ordered[start + 1 :]:
            last = row[-1]
            height = anchor[3]
            gap = other[0] - (last[0] + last[2])
            if (
                abs(other[3] - height) <= 0.25 * height
                and abs(other[1] + other[3] / 2 - (last[1] + last[3] / 2)) <= 0.3 * height
                and -0.3 * height <= gap <= 1.2 * height
            ):
                row.append(other)
        if len(row) >= 2:
            rows.append(row)
    return rows


def _expiry_below(
    grey: Image,
    boxes: list[Stats],
    row: list[Stats],
    dark_ink: bool,
    contrast: float,
    *,
    glyphs_only: bool = False,
) -> float | None:
    """Where (x) the expiry line sits under ``row``, or None; ``glyphs_only`` skips the
    grey-level test."""
    lh = _median([c[3] for c in row])
    x0, x1 = min(c[0] for c in row), max(c[0] + c[2] for c in row)
    cx = (x0 + x1) / 2
    # The feet's line, so a tilted row is measured where its expiry is (plain Python: cheaper).
    feet = [(c[0] + c[2] / 2, c[1] + c[3]) for c in row]
    mean_x = sum(x for x, _ in feet) / len(feet)
    mean_y = sum(y for _, y in feet) / len(feet)
    spread_x = sum((x - mean_x) ** 2 for x, _ in feet)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in feet) / spread_x if spread_x else 0.0
    y1 = mean_y + slope * (cx - mean_x)
    glyphs = [
        b
        for b in boxes
        if 0.12 * lh <= b[3] <= 0.6 * lh
        and y1 + 0.05 * lh <= b[1] + b[3] / 2 <= y1 + 0.8 * lh
        and x0 <= b[0] + b[2] / 2 <= x1
        and b[2] <= 1.2 * lh
    ]
    if len(glyphs) >= 2:
        left_x, right_x = min(b[0] for b in glyphs), max(b[0] + b[2] for b in glyphs)
        if right_x - left_x <= 1.6 * lh:
            return (left_x + right_x) / 2
    found = _glyph_group(glyphs, lh)
    if found is not None or glyphs_only:
        return found
    # Merged or faded glyphs: ink under the row, plain either side, short of the bottom rim.
    top, bottom = int(y1 + 0.15 * lh), int(y1 + 0.58 * lh)
    if bottom > grey.shape[0] or top < 0 or lh < 7:
        return None
    half, flank = max(2, int(0.45 * lh)), int(1.1 * lh)
    start = max(0, int(x0) - flank)
    pixels = grey[top:bottom, start : int(x1) + flank]
    level = _grey_median(pixels)
    ink = np.subtract(level, pixels, dtype=np.float32)
    if not dark_ink:
        np.negative(ink, out=ink)
    profile = np.maximum(ink, 0, out=ink).sum(axis=0) / ink.shape[0]
    sums = np.zeros(len(profile) + 1)
    sums[1:] = np.cumsum(profile)
    lo, hi = max(half, int(x0) - start), min(len(profile) - half, int(x1) - start)
    if hi <= lo:
        return None
    centres = np.arange(lo, hi)
    windows = (sums[centres + half] - sums[centres - half]) / (2 * half)
    centre = int(centres[int(np.argmax(windows))])
    ink_mid = float(windows.max())
    left = profile[max(0, centre - flank) : max(0, centre - half - 2)]
    right = profile[centre + half + 2 : centre + flank]
    if left.size < 2 or right.size < 2:
        return None
    ink_side = float(max(left.sum() / left.size, right.sum() / right.size))
    if ink_mid >= max(4.0, 0.03 * contrast) and ink_mid >= 2.5 * ink_side:
        return float(start + centre)
    return None


def _glyph_group(glyphs: list[Stats], lh: float) -> float | None:
    """The middle (x) of two or more close digit-sized glyphs of one height, or None
    (glare leaves specks along a plate's rim; a sign's specks are smaller and scattered)."""
    digits = sorted(
        (b for b in glyphs if 0.2 * lh <= b[3] <= 0.45 * lh and b[2] <= 0.5 * lh),
        key=lambda b: b[0],
    )
    best: tuple[int, float] | None = None
    for start, first in enumerate(digits):
        middle = first[1] + first[3] / 2
        group = [first]
        for b in digits[start + 1 :]:
            last = group[-1]
            if (
                b[0] - (last[0] + last[2]) <= 0.3 * lh
                and abs(b[1] + b[3] / 2 - middle) <= 0.1 * lh
                and abs(b[3] - first[3]) <= 0.25 * first[3] + 1
            ):
                group.append(b)
        right = max(b[0] + b[2] for b in group)
        fits = len(group) >= 2 and right - first[0] <= 1.6 * lh
        if fits and (best is None or len(group) > best[0]):
            best = (len(group), (first[0] + right) / 2)
    return None if best is None else best[1]


def _plate_body(grey: Image, row: list[Stats], dark_ink: bool) -> tuple[int, int] | None:
    """Where (x from, x to) the plate's body spans around ``row``, or None.

    For a faded expiry line: a plate's row sits close under its top rim over a plain band
    that ends inside the region; a sign's board or a grille runs on past it.
    """
    x0, x1 = min(c[0] for c in row), max(c[0] + c[2] for c in row)
    y0 = min(c[1] for c in row)
    lh = max(c[1] + c[3] for c in row) - y0
    columns = grey[:, x0:x1]
    inside = columns[y0 : y0 + lh].ravel()
    # np.partition: a quarter of np.percentile's time, on every plausible row of a sign.
    low, high = np.partition(inside, (int(0.15 * inside.size), int(0.85 * inside.size)))[
        [int(0.15 * inside.size), int(0.85 * inside.size)]
    ]
    level, ink = (float(high), float(low)) if dark_ink else (float(low), float(high))
    tolerance = 0.35 * abs(level - ink)
    half = columns.shape[1] // 2

    def plain(rows: Image) -> npt.NDArray[np.bool_]:
        medians = np.partition(rows, half, axis=1)[:, half].astype(np.float32)
        return np.asarray(np.abs(medians - level) <= tolerance)

    # Above first: most rows unlike a plate fail here.
    reach = int(0.25 * lh) + 1
    above = plain(columns[max(0, y0 - reach - 1) : y0])[::-1]
    if above.all():
        return None
    below = plain(columns[y0 + lh :])
    run_below = int(np.argmin(below)) if not below.all() else -1
    if run_below < 0.5 * lh:
        return None
    band = grey[y0 + lh : y0 + lh + run_below].astype(np.float32)
    plain_columns = (np.abs(band - level) <= tolerance).mean(axis=0) >= 0.5
    middle = (x0 + x1) // 2
    left = plain_columns[:middle][::-1]
    right = plain_columns[middle:]
    if left.all() or right.all():
        return None  # the plain band runs out of the region: a grille or a wall, no plate
    return min(x0, middle - int(np.argmin(left))), max(x1, middle + int(np.argmin(right)))


def _scheme_background(patch: Image, mask: Image) -> bool:
    """Whether the ``mask`` pixels are white, black, grey (night, IR), yellow or red."""
    if cv2.countNonZero(mask) < 8:
        return False
    b, g, r = (float(v) for v in cv2.mean(patch, mask=mask)[:3])
    top, low = max(b, g, r), min(b, g, r)
    if top - low <= 0.25 * top + 12:
        return True  # white, black or grey
    yellow = r > b + 40 and g > b + 40 and abs(r - g) < 0.35 * top
    red = r > g + 50 and r > b + 50 and abs(g - b) < 0.4 * r
    return yellow or red


def plate_layout(
    region: Image, band: Box | None = None, grey: Image | None = None
) -> LineLayout | None:
    """The plate's main line in a BGR region, or None; ``band`` is where the finder saw text
    (it sets the threshold, not the car body), ``grey`` the region in grey if at hand."""
    h, w = region.shape[:2]
    if h < 16 or w < 30:
        return None
    bx, by, bw, bh = band if band is not None else (0, 0, w, h)
    if grey is None:
        grey = np.asarray(cv2.cvtColor(region, cv2.COLOR_BGR2GRAY), np.uint8)
    if bh > 2 * _WORK_HEIGHT:
        # Big text is measured shrunk (cost grows with area); colour only tells the scheme.
        scale = _WORK_HEIGHT / bh
        small_grey = np.asarray(
            cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
        small = np.asarray(
            cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR), np.uint8
        )
        sb = (int(bx * scale), int(by * scale), max(1, int(bw * scale)), max(1, int(bh * scale)))
        shrunk = plate_layout(small, sb, small_grey)
        if shrunk is None:
            return None
        x, y, lw, lh = (round(v / scale) for v in shrunk.box)
        return LineLayout((x, y, lw, lh), shrunk.characters, shrunk.expiry, shrunk.plateness)
    _, spread = cv2.meanStdDev(grey[by : by + bh, bx : bx + bw])
    # Local: glare and shade sweep across plates; the offset keeps plain-background noise out.
    offset = min(18.0, max(5.0, 0.25 * float(spread[0, 0])))
    block = max(11, (min(h, bh) // 2) * 2 + 1)
    dark, light = _ink_masks(grey, block, offset)
    background = np.asarray(cv2.bitwise_not(dark | light), np.uint8)
    contrast = 4.0 * float(spread[0, 0])
    best: tuple[float, LineLayout] | None = None
    masks = [(True, dark), (False, light)]
    thin = np.ones((2, 2), np.uint8)
    shorter_rim = bw // 4 if bw >= _TILT_BROKEN else None
    for attempt, (dark_ink, ink) in enumerate(masks):
        found = _best_row(region, grey, ink, background, dark_ink, contrast)
        # A second look counts only if more plate-like; else it is the same row cut or joined.
        if found is not None and (
            best is None
            or (found[0] > best[0] and (attempt < 2 or found[1].plateness > best[1].plateness))
        ):
            best = found
        if best is not None and best[1].plateness >= 1.0:
            break  # nothing scores higher
        if attempt == 1 and (best is None or _rim_joined(best[1])):
            # Characters touching the rim join it: drop runs half the band wide, look again.
            masks += _without_rim(masks[:2], bw // 2)
        elif attempt == 1:
            shorter_rim = None
        elif attempt == len(masks) - 1 and shorter_rim is not None:
            if best is None or best[1].plateness < MIN_PLATE_LIKE:
                masks += _without_rim(masks[:2], shorter_rim)
            shorter_rim = None
        if attempt == 1 and (best is None or 0.4 <= best[1].plateness < 0.6):
            # Blur joins characters; thinning once separates most of them.
            masks += [(d, np.asarray(cv2.erode(m, thin), np.uint8)) for d, m in masks[:2]]
    if band is not None and (best is None or _rim_joined(best[1])):
        # No row or a few blobs: once more with a window inside the plate (rare on empty lanes).
        finer = max(11, (int(_FINER_BLOCK * min(h, bh)) // 2) * 2 + 1)
        if finer < block:
            fdark, flight = _ink_masks(grey, finer, offset)
            fback = np.asarray(cv2.bitwise_not(fdark | flight), np.uint8)
            for dark_ink, ink in ((True, fdark), (False, flight)):
                found = _best_row(region, grey, ink, fback, dark_ink, contrast)
                if found is not None and (best is None or found[1].plateness > best[1].plateness):
                    best = found
    return None if best is None else best[1]


def _without_rim(masks: list[tuple[bool, Image]], run: int) -> list[tuple[bool, Image]]:
    """The ink ``masks`` without their horizontal runs ``run`` px or longer (at least 15)."""
    rim = cv2.getStructuringElement(cv2.MORPH_RECT, (max(15, run), 1))
    return [
        (dark_ink, np.asarray(cv2.subtract(m, cv2.morphologyEx(m, cv2.MORPH_OPEN, rim)), np.uint8))
        for dark_ink, m in masks
    ]


def _ink_masks(grey: Image, block: int, offset: float) -> tuple[Image, Image]:
    """Dark and light ink: bit for bit two `cv2.adaptiveThreshold` (mean-C) calls, from one
    box filter (an odd block's mean is never halfway between two grey levels)."""
    mean = cv2.boxFilter(grey, -1, (block, block), borderType=cv2.BORDER_REPLICATE)
    below = cv2.subtract(grey, mean, dtype=cv2.CV_16S)
    # As adaptiveThreshold, the offset rounded down (the stubs lack compare's scalar form).
    step = math.floor(offset)
    dark = np.asarray(cv2.compare(below, -step, cv2.CMP_LE), np.uint8)  # type: ignore[call-overload]
    light = np.asarray(cv2.compare(below, step, cv2.CMP_GE), np.uint8)  # type: ignore[call-overload]
    return dark, light


def _rim_joined(layout: LineLayout) -> bool:
    """Whether a row looks like a plate whose characters joined the rim: few, no expiry."""
    return layout.plateness < MIN_PLATE_LIKE and layout.characters <= 3


def _best_row(
    region: Image, grey: Image, ink: Image, background: Image, dark_ink: bool, contrast: float
) -> tuple[float, LineLayout] | None:
    """The most plate-like row of characters in one ink mask, with its ranking value."""
    h, w = grey.shape
    best: tuple[float, LineLayout] | None = None
    # 16-bit labels, a third faster, fit when the 2x2 squares are fewer than 2^16.
    fits = ((h + 1) // 2) * ((w + 1) // 2) < 1 << 16
    label_type = cv2.CV_16U if fits else cv2.CV_32S
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8, ltype=label_type)
    sized = stats[1:count, :4][stats[1:count, 3] >= 2]
    boxes: list[Stats] = [(x, y, bw, bh) for x, y, bw, bh in sized.tolist()]
    chars = [
        b
        for b in boxes
        if 0.12 * h <= b[3] <= 0.9 * h and 0.04 * b[3] <= b[2] <= 2.6 * b[3] and b[2] < 0.5 * w
    ]
    for row in _rows(chars):
        if min(c[3] for c in row) < 6:
            continue  # too small to read, and noise forms rows of its own
        x0 = min(c[0] for c in row)
        y0 = min(c[1] for c in row)
        x1 = max(c[0] + c[2] for c in row)
        lh = max(c[1] + c[3] for c in row) - y0
        char_h = _median([c[3] for c in row])
        count_chars = sum(max(1, round(c[2] / (0.7 * char_h))) for c in row)
        plausible = 2 <= count_chars <= 9 and 1.0 <= (x1 - x0) / lh <= 9.0
        # Over 9 may be a wide plate, but a sign is that long too: it needs the expiry's glyphs.
        long_row = 9 < count_chars <= _MOST_CHARACTERS and 1.0 <= (x1 - x0) / lh <= 10.0
        line = (slice(y0, y0 + lh), slice(x0, x1))
        centre = (
            _expiry_below(grey, boxes, row, dark_ink, contrast, glyphs_only=long_row)
            if plausible or long_row
            else None
        )
        if (
            long_row
            and centre is not None
            and abs(2 * centre - x0 - x1) > 2 * _OFF_CENTRE * (x1 - x0)
        ):
            # A plate centres its expiry; specks under a sign fall anywhere.
            centre = None
        plausible = plausible or (long_row and centre is not None)
        expiry = centre is not None
        scheme = _scheme_background(region[line], background[line])
        body = _plate_body(grey, row, dark_ink) if not expiry and plausible and scheme else None
        plateness = 0.6 * (expiry or body is not None) + 0.25 * scheme + 0.15 * plausible
        if centre is not None:
            # Centred over the expiry: recover characters that dropped out at one end.
            x0, x1 = max(0, min(x0, int(2 * centre) - x1)), min(w, max(x1, int(2 * centre) - x0))
        elif body is not None:
            x0, x1 = body
        layout = LineLayout((x0, y0, x1 - x0, lh), count_chars, expiry, plateness)
        value = plateness * 1000 + min(count_chars, 9) * lh
        if best is None or value > best[0]:
            best = (value, layout)
    return best
