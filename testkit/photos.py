"""Photo-like JPEGs made with Pillow, for tests of uploads and page weight (no image files in the repo)."""

import functools
import io
import random

from PIL import Image, ImageDraw


@functools.lru_cache(maxsize=4)
def _fine_grain(size):
    return Image.effect_noise(size, 30).convert("RGB")


@functools.cache  # the same bytes for the same arguments: drawn once per run (about a second at 3024 px)
def photo_jpeg(seed=1, size=(3024, 3024), *, exif_orientation=None):
    """A JPEG that weighs like a phone photo: colour fields, shapes and grain that survive downscaling.

    Drawn at a quarter of the size and scaled up (fast), with full-size grain as a sensor leaves it.
    """
    rnd = random.Random(seed)
    width, height = size
    small = (max(1, width // 4), max(1, height // 4))
    field = Image.new("RGB", (48, 48))
    pixels = field.load()
    base = [rnd.randrange(256) for _ in range(3)]
    for y in range(48):
        for x in range(48):
            pixels[x, y] = tuple(max(0, min(255, base[c] + rnd.randrange(-60, 60) + (x - y) * 2)) for c in range(3))
    sketch = field.resize(small, Image.BICUBIC)
    draw = ImageDraw.Draw(sketch)
    for _ in range(25):
        x, y = rnd.randrange(small[0]), rnd.randrange(small[1])
        r = rnd.randrange(small[0] // 60 + 1, small[0] // 6 + 2)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
    sketch = Image.blend(sketch, Image.effect_noise(small, 40).convert("RGB"), 0.25)
    image = Image.blend(sketch.resize(size, Image.BICUBIC), _fine_grain(size), 0.06)
    out = io.BytesIO()
    exif = Image.Exif()
    if exif_orientation:
        exif[0x0112] = exif_orientation
    image.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def png_bytes(size=(4, 4), colour="teal", mode="RGB"):
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()
