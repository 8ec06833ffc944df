"""Plate-likeness of a candidate region, measured cheaply before any recognition call.

A TNKB plate is one row of 2-9 big characters of equal height on one baseline, with the
small expiry line (``08.29``, about 0.28 of their height) centred under it, on a plain
background of one of the four schemes (white, black, yellow, red). Shop signs have the row
but nothing under it; a badge on the grille has the row and the dark background but no
expiry line either. Recognition costs ~10-20 ms a call, so only regions that look like this
are read, best first.
"""

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
# A plate holds at most 9 characters, but the count is estimated from widths, and wide
# letters (``M``, ``W``) and merged pairs make it overshoot: a 9-character plate measured 10.
_MOST_CHARACTERS = 11
# How far (a share of the row's width, each way) the expiry's glyphs under a long row may
# sit from its middle: 0.03 and 0.09 on the benchmark's plates, 0.04-0.47 (15 of 27 over
# 0.15) under the shop signs of its empty frames.
_OFF_CENTRE = 0.15
# From this band width (px, as measured) a slightly tilted plate's rim breaks into runs
# shorter than half the band: 2 px of drift over 40 px is 3 degrees.
_TILT_BROKEN = 80
# The plate-likeness a region needs to be read (an expiry line or the plate's body under
# a row); ``plates.MIN_PLATENESS`` is the same.
MIN_PLATE_LIKE = 0.75
# The threshold's window for a last look, as a share of the band's height: a window as tall
# as a whole-plate band on dark paint takes the paint into its mean and joins the
# characters into plate-high blobs.
_FINER_BLOCK = 0.4


@dataclass(frozen=True, slots=True)
class LineLayout:
    """The main line found in a region: its box, character count, expiry line, plate score.

    ``plateness`` is 0..1: the expiry line counts most, then a scheme background colour and
    a plausible character count.
    """

    box: Box
    characters: int
    expiry: bool
    plateness: float


def _median(values: list[int]) -> float:
    """The median of a few values, as `np.median` gives it, without its overhead per call."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _grey_median(pixels: Image) -> float:
    """The median grey level of ``pixels``, as `np.median` gives it, at a fraction of its cost."""
    flat = pixels.ravel()
    mid = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, mid)[mid])
    pair = np.partition(flat, (mid - 1, mid))
    return (int(pair[mid - 1]) + int(pair[mid])) / 2


def _rows(chars: list[Stats]) -> list[list[Stats]]:
    """Chains of components of one height, left to right, each near the last one's line.

    Chaining rather than one shared centre line keeps a tilted plate's row together.
    """
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
    """Where (x) the small expiry line sits under ``row``, or None if it is not there.

    ``boxes`` are the ink components; ``contrast`` the band's ink-to-background contrast.
    With ``glyphs_only`` only separate glyphs count, not the grey-level test.
    """
    lh = _median([c[3] for c in row])
    x0, x1 = min(c[0] for c in row), max(c[0] + c[2] for c in row)
    cx = (x0 + x1) / 2
    # The row's bottom edge at its middle, from a line through the characters' feet, so a
    # tilted plate is measured where its expiry line is.
    # (Plain Python: a row has a few characters, and numpy's cost per call is most of this.)
    feet = [(c[0] + c[2] / 2, c[1] + c[3]) for c in row]
    mean_x = sum(x for x, _ in feet) / len(feet)
    mean_y = sum(y for _, y in feet) / len(feet)
    spread_x = sum((x - mean_x) ** 2 for x, _ in feet)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in feet) / spread_x if spread_x else 0.0
    y1 = mean_y + slope * (cx - mean_x)
    # Separate glyphs: two or more small components side by side under the row. The row may
    # have lost a character at either end, so its middle is only roughly the plate's.
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
    # Small or blurred plates: the glyphs merge, or fade below the ink threshold. Compare
    # grey levels instead: somewhere under the row a box about 0.9 x 0.4 line heights must
    # hold ink of the row's polarity, and the plate background on either side must not.
    # The band stops short of the plate's bottom rim, which blur may join to the glyphs.
    top, bottom = int(y1 + 0.15 * lh), int(y1 + 0.58 * lh)
    if bottom > grey.shape[0] or top < 0 or lh < 7:
        return None
    half, flank = max(2, int(0.45 * lh)), int(1.1 * lh)
    # Only the columns under the row and its flanks matter; x is relative to ``start``.
    start = max(0, int(x0) - flank)
    pixels = grey[top:bottom, start : int(x1) + flank]
    level = _grey_median(pixels)
    # How much darker (lighter, for light ink) than the band's median each pixel is, by column.
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
    """The middle (x) of a run of expiry-like glyphs under a row, or None.

    Glare and blur leave specks along a plate's bottom rim, so the glyphs are not all
    required to fit in the expiry's width; instead two or more digit-sized glyphs of one
    height, on one line and close together, must be there. Specks under a sign are smaller
    and scattered.
    """
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
    """Where (x from, x to) the plate's body spans around ``row``, or None if it does not show.

    For a row whose expiry line may have faded under glare or blur. On a plate the
    characters sit close under the top rim (background above them < 0.25 line heights) over
    the expiry's plain band (background below > 0.5), and both ends of the background are
    inside the region (the rim, the car). A sign's text is centred in its board and a
    badge's grille goes on: above and below alike, and sideways past the region. The plain
    band's width is the plate's, which recovers characters that glare took out of the row.
    """
    x0, x1 = min(c[0] for c in row), max(c[0] + c[2] for c in row)
    y0 = min(c[1] for c in row)
    lh = max(c[1] + c[3] for c in row) - y0
    columns = grey[:, x0:x1]
    inside = columns[y0 : y0 + lh].ravel()
    # np.partition rather than np.percentile and np.median: a quarter of the time, and this
    # runs for every plausible row of an empty lane's signs.
    low, high = np.partition(inside, (int(0.15 * inside.size), int(0.85 * inside.size)))[
        [int(0.15 * inside.size), int(0.85 * inside.size)]
    ]
    level, ink = (float(high), float(low)) if dark_ink else (float(low), float(high))
    tolerance = 0.35 * abs(level - ink)
    half = columns.shape[1] // 2

    def plain(rows: Image) -> npt.NDArray[np.bool_]:
        medians = np.partition(rows, half, axis=1)[:, half].astype(np.float32)
        return np.asarray(np.abs(medians - level) <= tolerance)

    # Above first, and only the few rows that matter: most rows unlike a plate fail here.
    reach = int(0.25 * lh) + 1
    above = plain(columns[max(0, y0 - reach - 1) : y0])[::-1]
    # All plain: the background runs past the allowed margin or to the region's edge.
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
    """Whether the background pixels (``mask``) are white, black, grey, yellow or red.

    Grey covers night and IR frames, where a white plate loses its colour.
    """
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
    """The plate's main line in a BGR region, or None when no row of characters is there.

    ``band`` (region coordinates) is where the finder saw text; the ink threshold's offset
    and window come from it, so the car body around a plate does not set them. ``grey`` is
    the region in grey when the caller has it already.
    """
    h, w = region.shape[:2]
    if h < 16 or w < 30:
        return None
    bx, by, bw, bh = band if band is not None else (0, 0, w, h)
    if grey is None:
        grey = np.asarray(cv2.cvtColor(region, cv2.COLOR_BGR2GRAY), np.uint8)
    if bh > 2 * _WORK_HEIGHT:
        # Big text (a sign, a close plate) is measured smaller: this stage's cost grows with
        # the region's area. Grey levels are averaged by area; colour, which only tells the
        # background's scheme, is sampled bilinearly (a seventh of the time).
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
    # A local threshold, because glare and shade sweep across plates; the offset scales with
    # the band's contrast so that noise on a plain background stays below it.
    offset = min(18.0, max(5.0, 0.25 * float(spread[0, 0])))
    block = max(11, (min(h, bh) // 2) * 2 + 1)
    dark, light = _ink_masks(grey, block, offset)
    background = np.asarray(cv2.bitwise_not(dark | light), np.uint8)
    # Ink-to-background contrast of the band, for judging how dark a faint expiry line is.
    contrast = 4.0 * float(spread[0, 0])
    best: tuple[float, LineLayout] | None = None
    masks = [(True, dark), (False, light)]
    thin = np.ones((2, 2), np.uint8)
    # Shorter rim runs, for when stripping half the band's width found nothing plate-like:
    # the 1-2 px rim of a wide plate tilted a few degrees breaks into shorter runs.
    shorter_rim = bw // 4 if bw >= _TILT_BROKEN else None
    for attempt, (dark_ink, ink) in enumerate(masks):
        found = _best_row(region, grey, ink, background, dark_ink, contrast)
        # A second look (attempt 2 on) counts only if it is more plate-like: a row it finds
        # otherwise is the first look's row with pieces cut off or joined on.
        if found is not None and (
            best is None
            or (found[0] > best[0] and (attempt < 2 or found[1].plateness > best[1].plateness))
        ):
            best = found
        if best is not None and best[1].plateness >= 1.0:
            break  # nothing scores higher
        if attempt == 1 and (best is None or _rim_joined(best[1])):
            # Characters touching the rim join it into one component: drop the rim's long
            # horizontal edges (no run of a row's ink is half the band wide) and look again.
            masks += _without_rim(masks[:2], bw // 2)
        elif attempt == 1:
            shorter_rim = None
        elif attempt == len(masks) - 1 and shorter_rim is not None:
            # The last of the second looks: none was plate-like, so strip the shorter runs.
            if best is None or best[1].plateness < MIN_PLATE_LIKE:
                masks += _without_rim(masks[:2], shorter_rim)
            shorter_rim = None
        if attempt == 1 and (best is None or 0.4 <= best[1].plateness < 0.6):
            # Blur joins characters to the rim and to each other; thinning the ink once
            # separates most of them again. Not worth it for a row unlike a plate's.
            masks += [(d, np.asarray(cv2.erode(m, thin), np.uint8)) for d, m in masks[:2]]
    if band is not None and (best is None or _rim_joined(best[1])):
        # Still no row, or a few plate-high blobs: look once more with a window small enough
        # to stay inside the plate; only in a frame's region (a tight crop reads whole), and
        # only for such rows, so an empty lane rarely pays for it.
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
    """Dark and light ink: pixels ``offset`` or more below (above) their ``block`` mean.

    Bit for bit the two `cv2.adaptiveThreshold` (mean-C) calls of ``grey`` and its inverse,
    from one box filter: the inverse's mean is 255 minus the mean, as an odd block's mean
    is never halfway between two grey levels.
    """
    mean = cv2.boxFilter(grey, -1, (block, block), borderType=cv2.BORDER_REPLICATE)
    below = cv2.subtract(grey, mean, dtype=cv2.CV_16S)
    # adaptiveThreshold compares against the offset rounded down. (OpenCV's stubs leave out
    # compare's scalar form.)
    step = math.floor(offset)
    dark = np.asarray(cv2.compare(below, -step, cv2.CMP_LE), np.uint8)  # type: ignore[call-overload]
    light = np.asarray(cv2.compare(below, step, cv2.CMP_GE), np.uint8)  # type: ignore[call-overload]
    return dark, light


def _rim_joined(layout: LineLayout) -> bool:
    """Whether a row looks like what is left of a plate whose characters joined the rim: a
    few characters and no expiry line. A sign's row keeps its many characters, and
    stripping the rim of every region would cost an empty lane's frames more reads."""
    return layout.plateness < MIN_PLATE_LIKE and layout.characters <= 3


def _best_row(
    region: Image, grey: Image, ink: Image, background: Image, dark_ink: bool, contrast: float
) -> tuple[float, LineLayout] | None:
    """The most plate-like row of characters in one ink mask, with its ranking value."""
    h, w = grey.shape
    best: tuple[float, LineLayout] | None = None
    # 16-bit labels take a third less time; 8-connected components are at most one in each
    # 2x2 square of pixels, so they fit whenever those squares are fewer than 2^16.
    fits = ((h + 1) // 2) * ((w + 1) // 2) < 1 << 16
    label_type = cv2.CV_16U if fits else cv2.CV_32S
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8, ltype=label_type)
    # Specks of noise are most components on a plain background; drop them in bulk.
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
        # Merged neighbours count as the characters their width holds.
        char_h = _median([c[3] for c in row])
        count_chars = sum(max(1, round(c[2] / (0.7 * char_h))) for c in row)
        plausible = 2 <= count_chars <= 9 and 1.0 <= (x1 - x0) / lh <= 9.0
        # The count overshoots for wide letters (a 9-character plate measured 10), but a
        # shop sign is that long too: such a row needs the expiry's separate glyphs.
        long_row = 9 < count_chars <= _MOST_CHARACTERS and 1.0 <= (x1 - x0) / lh <= 10.0
        # The expiry test is the costly one, and a row unlike a plate's is not read anyway.
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
            # A row this long is the whole main line, and the plate centres it over the expiry
            # line; specks under a sign's board fall anywhere along it.
            centre = None
        plausible = plausible or (long_row and centre is not None)
        expiry = centre is not None
        scheme = _scheme_background(region[line], background[line])
        # Where glare or blur erased the expiry line, the plate's body under the row still
        # shows: a row close under the plate's top edge, over a plain band of its background.
        body = _plate_body(grey, row, dark_ink) if not expiry and plausible and scheme else None
        plateness = 0.6 * (expiry or body is not None) + 0.25 * scheme + 0.15 * plausible
        if centre is not None:
            # The text is centred over the expiry line: characters that dropped out of the
            # row at one end are as far out as the row reaches at the other.
            # Not past the region, though: a sign's text goes on, a plate's stops at its rim.
            x0, x1 = max(0, min(x0, int(2 * centre) - x1)), min(w, max(x1, int(2 * centre) - x0))
        elif body is not None:
            x0, x1 = body
        layout = LineLayout((x0, y0, x1 - x0, lh), count_chars, expiry, plateness)
        # Among rows in one region, the plate-like one, then many tall characters.
        value = plateness * 1000 + min(count_chars, 9) * lh
        if best is None or value > best[0]:
            best = (value, layout)
    return best
