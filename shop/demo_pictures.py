"""Product pictures for the demo catalog, drawn with Pillow: a studio shot of the product (a gradient
backdrop, a soft shadow on the floor, the object shaded as if lit from the upper left).

Nothing is downloaded or bundled: `draw(picture, backdrop)` returns a JPEG, which load_demo_catalog saves as
the product's upload, so it is resized into the same WebP copies as a photo staff upload.
"""

import functools
import io
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

SIZE = 1280  # the widest copy pages use (shop.images.RENDITION_WIDTHS)
JPEG_QUALITY = 88


@dataclass(frozen=True)
class Picture:
    """What to draw: the kind of object, its main colour and the words on its label (if it has one)."""

    kind: str  # one of KINDS
    colour: str
    label: str = ""
    sublabel: str = ""


def draw(picture, backdrop):
    """Return a SIZE x SIZE JPEG of `picture` on a studio backdrop of colour `backdrop`."""
    canvas = _Canvas(backdrop)
    KINDS[picture.kind](canvas, picture)
    out = io.BytesIO()
    canvas.image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


# --- The studio: backdrop, shadows, shaded shapes --------------------------------------------------------


def _rgb(colour):
    return Image.new("RGB", (1, 1), colour).getpixel((0, 0))


def _mix(colour, other, amount):
    """`colour` moved `amount` (0-1) of the way towards `other`."""
    a, b = _rgb(colour), _rgb(other)
    return tuple(round(x + (y - x) * amount) for x, y in zip(a, b))


@functools.cache
def _falloff():
    """0 where the studio light is brightest, above the object; towards 255 at the corners."""
    return Image.radial_gradient("L").transform((SIZE, SIZE), Image.AFFINE, (0.16, 0, 26, 0, 0.16, 5), Image.BICUBIC)


@functools.cache
def _grain():
    # A trace of grain, as a camera sensor leaves: without it the smooth backdrop bands in 8-bit copies.
    return Image.merge("RGB", [Image.effect_noise((SIZE, SIZE), 6)] * 3)


@functools.cache
def _cylinder_light(width):
    """A row of brightness across a cylinder lit from the upper left: (shade 0-255, highlight 0-255)."""
    shade, highlight = [], []
    for x in range(width):
        angle = (x + 0.5) / width * math.pi - math.pi / 2  # the surface's normal, from -90° to +90°
        diffuse = max(0.0, math.cos(angle + 0.55))
        shade.append(round(255 * (0.42 + 0.58 * diffuse)))
        highlight.append(round(255 * 0.55 * math.exp(-(((angle + 0.62) / 0.16) ** 2))))
    return bytes(shade), bytes(highlight)


class _Canvas:
    def __init__(self, backdrop):
        light, dark = _mix(backdrop, "white", 0.55), _mix(backdrop, "black", 0.18)
        self.image = Image.composite(
            Image.new("RGB", (SIZE, SIZE), dark), Image.new("RGB", (SIZE, SIZE), light), _falloff()
        )
        self.image = Image.blend(self.image, _grain(), 0.03)

    def shadow(self, centre_x, floor_y, half_width, depth=0.09, strength=150):
        """A soft contact shadow on the floor under an object `half_width` wide."""
        small = 4  # drawn at a quarter of the size and scaled up: a wide blur costs little that way
        mask = Image.new("L", (SIZE // small, SIZE // small), 0)
        box = [
            (centre_x - half_width * 1.15) / small,
            (floor_y - half_width * depth) / small,
            (centre_x + half_width * 1.15) / small,
            (floor_y + half_width * depth * 1.4) / small,
        ]
        ImageDraw.Draw(mask).ellipse(box, fill=strength)
        mask = mask.filter(ImageFilter.GaussianBlur(half_width * 0.09 / small + 4)).resize((SIZE, SIZE), Image.BICUBIC)
        core = Image.new("L", (SIZE, SIZE), 0)
        ImageDraw.Draw(core).ellipse(
            (centre_x - half_width, floor_y - 10, centre_x + half_width, floor_y + 12), fill=strength
        )
        mask = ImageChops.lighter(mask, core.filter(ImageFilter.GaussianBlur(8)))
        self.image.paste(Image.new("RGB", (SIZE, SIZE), (40, 32, 28)), (0, 0), mask)

    def paint(self, mask, colour, *, lit=True, shine=1.0, opacity=255):
        """Fill `mask` (an "L" image) with `colour`, shaded across its width as a lit cylinder if `lit`."""
        box = mask.getbbox()
        if box is None:
            return
        # Only the object's box is worked on: a fraction of the picture, so a picture takes milliseconds.
        box = (max(0, box[0] - 2), max(0, box[1] - 2), min(SIZE, box[2] + 2), min(SIZE, box[3] + 2))
        region = mask.crop(box).filter(ImageFilter.GaussianBlur(0.9))  # smooth edges, as a lens draws them
        if opacity != 255:
            region = region.point(lambda v: v * opacity // 255)
        width, height = box[2] - box[0], box[3] - box[1]
        fill = Image.new("RGB", (width, height), colour)
        if lit:
            shade, highlight = _cylinder_light(width)
            light = Image.frombytes("L", (width, 1), shade).resize((width, height))
            fill = ImageChops.multiply(fill, Image.merge("RGB", [light] * 3))
            if shine:
                glint = Image.frombytes("L", (width, 1), highlight).resize((width, height))
                glint = glint.point(lambda v: round(v * shine))
                fill = ImageChops.screen(fill, Image.merge("RGB", [glint] * 3))
        self.image.paste(fill, box[:2], region)

    def text(self, xy, words, size, colour, *, width, bold=False):
        """Write `words` centred on `xy`, at `size` px or smaller, so that they fit in `width`."""
        font = ImageFont.load_default(size=size)
        while size > 12 and font.getlength(words) > width:
            size -= 2
            font = ImageFont.load_default(size=size)
        ImageDraw.Draw(self.image).text(
            xy, words, font=font, fill=colour, anchor="mm", stroke_width=1 if bold else 0, stroke_fill=colour
        )


def _mask():
    mask = Image.new("L", (SIZE, SIZE), 0)
    return mask, ImageDraw.Draw(mask)


def _cylinder_mask(cx, top, bottom, rx, ry):
    """A standing cylinder seen from slightly above: its side and rounded bottom edge (the top is drawn apart)."""
    mask, pen = _mask()
    pen.rectangle((cx - rx, top, cx + rx, bottom), fill=255)
    pen.ellipse((cx - rx, bottom - ry, cx + rx, bottom + ry), fill=255)
    pen.ellipse((cx - rx, top - ry, cx + rx, top + ry), fill=255)
    return mask


def _ellipse_mask(cx, cy, rx, ry):
    mask, pen = _mask()
    pen.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return mask


def _polygon_mask(points):
    mask, pen = _mask()
    pen.polygon(points, fill=255)
    return mask


def _stroke_mask(points, width):
    """A thick curve through `points` (a handle, a spout), with rounded ends."""
    mask, pen = _mask()
    pen.line(points, fill=255, width=width, joint="curve")
    for x, y in (points[0], points[-1]):
        pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return mask


def _bezier(p0, p1, p2, p3, steps=40):
    return [
        tuple(
            (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t**2 * c + t**3 * d
            for a, b, c, d in zip(p0, p1, p2, p3)
        )
        for t in (i / steps for i in range(steps + 1))
    ]


# --- The objects: each drawn centred, standing on the floor at FLOOR -------------------------------------

CENTRE = SIZE // 2
FLOOR = round(SIZE * 0.8)


def _pouch(canvas, picture):
    """A stand-up bag of coffee beans with a crimped top, a valve and a paper label."""
    half, top = 250, 250
    canvas.shadow(CENTRE, FLOOR, half)
    body = [
        (CENTRE - half + 30, top),
        (CENTRE + half - 30, top),
        (CENTRE + half, FLOOR - 40),
        (CENTRE + half - 12, FLOOR),
        (CENTRE - half + 12, FLOOR),
        (CENTRE - half, FLOOR - 40),
    ]
    canvas.paint(_polygon_mask(body), picture.colour, shine=0.5)
    seal = _polygon_mask(
        [
            (CENTRE - half + 30, top),
            (CENTRE + half - 30, top),
            (CENTRE + half - 27, top + 70),
            (CENTRE - half + 27, top + 70),
        ]
    )
    canvas.paint(seal, _mix(picture.colour, "black", 0.25), shine=0.3)
    pen = ImageDraw.Draw(canvas.image)
    for x in range(CENTRE - half + 40, CENTRE + half - 30, 14):  # the crimp of the heat seal
        pen.line((x, top + 6, x, top + 64), fill=_mix(picture.colour, "black", 0.4), width=3)
    label_top, label_bottom = top + 190, top + 430
    canvas.paint(
        _polygon_mask(
            [
                (CENTRE - 170, label_top),
                (CENTRE + 170, label_top),
                (CENTRE + 172, label_bottom),
                (CENTRE - 172, label_bottom),
            ]
        ),
        "#f3ead8",
        shine=0.25,
    )
    ink = _mix(picture.colour, "black", 0.35)
    canvas.text((CENTRE, label_top + 80), picture.label.upper(), 74, ink, width=290, bold=True)
    pen.line((CENTRE - 110, label_top + 128, CENTRE + 110, label_top + 128), fill=ink, width=3)
    canvas.text((CENTRE, label_top + 178), picture.sublabel, 40, ink, width=300)
    canvas.paint(_ellipse_mask(CENTRE, top + 130, 24, 24), _mix(picture.colour, "black", 0.4), shine=0.6)


def _tin(canvas, picture):
    """A round tea caddy with a lid and a wrap-around label."""
    rx, ry, top = 200, 46, 330
    canvas.shadow(CENTRE, FLOOR, rx)
    canvas.paint(_cylinder_mask(CENTRE, top + 70, FLOOR, rx, ry), picture.colour, shine=0.9)
    band_top, band_bottom = top + 230, top + 470
    band, pen = _mask()
    pen.rectangle((CENTRE - rx, band_top, CENTRE + rx, band_bottom), fill=255)
    pen.ellipse((CENTRE - rx, band_bottom - ry, CENTRE + rx, band_bottom + ry), fill=255)
    pen.ellipse((CENTRE - rx, band_top - ry, CENTRE + rx, band_top + ry), fill=0)
    canvas.paint(band, "#f1e9d6", shine=0.5)
    ink = _mix(picture.colour, "black", 0.5)
    canvas.text((CENTRE, band_top + 95), picture.label.upper(), 70, ink, width=250, bold=True)
    canvas.text((CENTRE, band_top + 168), picture.sublabel, 38, ink, width=250)
    lid = _mix(picture.colour, "black", 0.2)
    canvas.paint(_cylinder_mask(CENTRE, top, top + 80, rx + 8, ry + 2), lid, shine=1.0)
    canvas.paint(_ellipse_mask(CENTRE, top, rx + 8, ry + 2), _mix(lid, "white", 0.25), lit=False)
    canvas.paint(_ellipse_mask(CENTRE, top - 4, rx - 30, ry - 8), _mix(lid, "white", 0.4), lit=False, opacity=120)


def _dripper(canvas, picture):
    """A ceramic cone dripper on its round base."""
    top, rx, ry = 360, 250, 60
    canvas.shadow(CENTRE, FLOOR, 190)
    base_top = FLOOR - 60
    canvas.paint(_cylinder_mask(CENTRE, base_top, FLOOR - 20, 180, 34), picture.colour, shine=0.8)
    canvas.paint(_ellipse_mask(CENTRE, base_top, 180, 34), _mix(picture.colour, "white", 0.3), lit=False)
    cone = _polygon_mask(
        [(CENTRE - rx, top), (CENTRE + rx, top), (CENTRE + 90, base_top - 10), (CENTRE - 90, base_top - 10)]
    )
    cone.paste(255, (0, 0), _ellipse_mask(CENTRE, base_top - 10, 90, 24))
    canvas.paint(cone, picture.colour, shine=1.0)
    pen = ImageDraw.Draw(canvas.image)
    for n in range(-3, 4):  # the ribs that leave the filter room to breathe, seen through the glaze
        pen.line(
            (CENTRE + n * 52, top + 30, CENTRE + n * 22, base_top - 30),
            fill=_mix(picture.colour, "black", 0.12),
            width=4,
        )
    canvas.paint(_ellipse_mask(CENTRE, top, rx, ry), _mix(picture.colour, "white", 0.35), lit=False)
    canvas.paint(_ellipse_mask(CENTRE, top + 4, rx - 22, ry - 10), _mix(picture.colour, "black", 0.35), lit=False)
    handle = _stroke_mask(
        _bezier(
            (CENTRE + rx - 30, top + 60),
            (CENTRE + rx + 90, top + 60),
            (CENTRE + rx + 70, top + 210),
            (CENTRE + 170, top + 230),
        ),
        34,
    )
    canvas.paint(handle, picture.colour, shine=0.6)


def _grinder(canvas, picture):
    """A steel hand grinder: a tall cylinder, its cap and a crank with a wooden knob."""
    rx, ry, top = 140, 34, 360
    canvas.shadow(CENTRE, FLOOR, rx)
    canvas.paint(_cylinder_mask(CENTRE, top, FLOOR, rx, ry), picture.colour, shine=1.2)
    canvas.paint(_cylinder_mask(CENTRE, FLOOR - 170, FLOOR, rx + 2, ry), _mix(picture.colour, "black", 0.25), shine=1.0)
    pen = ImageDraw.Draw(canvas.image)
    for y in range(FLOOR - 160, FLOOR - 10, 12):  # the knurled grip
        pen.line((CENTRE - rx + 8, y, CENTRE + rx - 8, y), fill=_mix(picture.colour, "black", 0.4), width=2)
    canvas.paint(_ellipse_mask(CENTRE, top, rx, ry), _mix(picture.colour, "white", 0.3), lit=False)
    canvas.paint(_cylinder_mask(CENTRE, top - 60, top, 28, 8), _mix(picture.colour, "black", 0.1))
    arm = _stroke_mask([(CENTRE, top - 64), (CENTRE + 150, top - 96), (CENTRE + 260, top - 100)], 22)
    canvas.paint(arm, _mix(picture.colour, "black", 0.15), shine=0.8)
    canvas.paint(_cylinder_mask(CENTRE + 260, top - 200, top - 100, 30, 10), "#8a5a35", shine=0.7)


def _kettle(canvas, picture):
    """A gooseneck kettle: a round-shouldered body, a lid with a knob, a slim spout and a handle."""
    rx, top = 230, 470
    canvas.shadow(CENTRE, FLOOR, rx)
    spout = _stroke_mask(
        _bezier(
            (CENTRE - rx + 40, FLOOR - 70),
            (CENTRE - rx - 120, FLOOR - 70),
            (CENTRE - rx - 60, top - 160),
            (CENTRE - rx - 170, top - 180),
        ),
        24,
    )
    canvas.paint(spout, picture.colour, shine=0.6)
    handle = _stroke_mask(
        _bezier(
            (CENTRE + rx - 60, top + 20),
            (CENTRE + rx + 120, top - 40),
            (CENTRE + rx + 130, FLOOR - 160),
            (CENTRE + rx - 10, FLOOR - 110),
        ),
        38,
    )
    canvas.paint(handle, "#2b2b2b", shine=0.5)
    body, pen = _mask()
    pen.ellipse((CENTRE - rx, top, CENTRE + rx, top + 260), fill=255)
    pen.rectangle((CENTRE - rx, top + 130, CENTRE + rx, FLOOR - 30), fill=255)
    pen.ellipse((CENTRE - rx, FLOOR - 60, CENTRE + rx, FLOOR), fill=255)
    canvas.paint(body, picture.colour, shine=1.1)
    canvas.paint(_ellipse_mask(CENTRE, top + 30, 150, 30), _mix(picture.colour, "white", 0.25), lit=False)
    canvas.paint(_cylinder_mask(CENTRE, top - 20, top + 10, 34, 10), "#2b2b2b", shine=0.6)


def _filters(canvas, picture):
    """A fanned stack of cone-shaped paper filters."""
    canvas.shadow(CENTRE, FLOOR, 260, strength=120)
    for n, offset in enumerate((-70, -35, 0, 35, 70)):
        shade = _mix(picture.colour, "black", 0.04 * (4 - n))
        x = CENTRE + offset
        mask = _polygon_mask(
            [(x - 240, 360 + n * 8), (x + 240, 360 + n * 8), (x + 110, FLOOR - 10), (x - 110, FLOOR - 10)]
        )
        canvas.paint(mask, shade, shine=0.2)
        pen = ImageDraw.Draw(canvas.image)
        pen.line((x - 230, 380 + n * 8, x + 230, 380 + n * 8), fill=_mix(shade, "black", 0.15), width=3)
        for k in range(-4, 5):  # the crimped seam and the paper's folds
            pen.line((x + k * 50, 360 + n * 8, x + k * 24, FLOOR - 12), fill=_mix(shade, "black", 0.07), width=2)


def _mug(canvas, picture):
    """A glazed stoneware mug of coffee with a handle."""
    rx, ry, top = 210, 56, 420
    canvas.shadow(CENTRE, FLOOR, rx)
    handle = _stroke_mask(
        _bezier(
            (CENTRE + rx - 20, top + 70),
            (CENTRE + rx + 150, top + 40),
            (CENTRE + rx + 150, FLOOR - 90),
            (CENTRE + rx - 20, FLOOR - 110),
        ),
        42,
    )
    canvas.paint(handle, picture.colour, shine=0.5)
    canvas.paint(_cylinder_mask(CENTRE, top, FLOOR, rx, ry), picture.colour, shine=0.9)
    pen = ImageDraw.Draw(canvas.image)
    speckle = _mix(picture.colour, "black", 0.45)
    scatter = random.Random(picture.colour)  # the same speckles every time the picture is drawn
    for _ in range(70):  # the speckles of the glaze
        x, y = scatter.uniform(CENTRE - rx + 14, CENTRE + rx - 14), scatter.uniform(top + 50, FLOOR)
        pen.ellipse((x - 3, y - 3, x + 3, y + 3), fill=speckle)
    canvas.paint(_ellipse_mask(CENTRE, top, rx, ry), _mix(picture.colour, "white", 0.4), lit=False)
    canvas.paint(_ellipse_mask(CENTRE, top + 4, rx - 16, ry - 8), "#3b2416", lit=False)
    canvas.paint(_ellipse_mask(CENTRE - 40, top + 2, 80, 12), "#8a6242", lit=False, opacity=140)


def _glasses(canvas, picture):
    """Two double-walled glasses, coffee floating inside the inner wall."""
    for cx, top, coffee in ((CENTRE - 150, 400, "#5a3520"), (CENTRE + 160, 460, "#c89b6d")):
        rx, ry = 125, 32
        canvas.shadow(cx, FLOOR, rx, strength=90)
        canvas.paint(_cylinder_mask(cx, top, FLOOR, rx, ry), picture.colour, shine=1.4, opacity=90)
        canvas.paint(_cylinder_mask(cx, top + 160, FLOOR - 60, rx - 22, ry - 6), coffee, shine=0.6)
        canvas.paint(_ellipse_mask(cx, top + 160, rx - 22, ry - 6), _mix(coffee, "white", 0.25), lit=False)
        rim, pen = _mask()
        pen.ellipse((cx - rx, top - ry, cx + rx, top + ry), outline=255, width=6)
        canvas.paint(rim, "white", lit=False, opacity=200)


KINDS = {
    "pouch": _pouch,
    "tin": _tin,
    "dripper": _dripper,
    "grinder": _grinder,
    "kettle": _kettle,
    "filters": _filters,
    "mug": _mug,
    "glasses": _glasses,
}
