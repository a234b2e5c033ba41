"""What a user reads and sees, without models: plain words (no reason codes), box labels,
/budget's answer, and collages whose pictures are never blown up more than twice their size."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from bot import cards, collage
from bot.handlers import boxed_jpeg
from core.catalog import Catalog, larger_copy
from core.draw import debug_label, render
from core.gate import MESSAGES
from core.imageio import BAD_INPUT_MESSAGES
from core.records import Detection, GateVerdict, Product
from tests.helpers import FIXTURES, REPO

DEMO = REPO / "data" / "demo"
SMALL_IMAGES = sorted((FIXTURES / "shop" / "images").glob("*.jpg"))  # 60x80, as in the demo


def small(i: int, price=None) -> Product:
    return Product(id=str(i), title="Roadster Men Blue Slim Fit Denim Jeans", brand="Roadster",
                   price=price, url=f"https://www.myntra.com/{i}",
                   image=str(SMALL_IMAGES[i % len(SMALL_IMAGES)]), category="bottomwear")


def demo_with_larger_copies(n: int) -> list[Product]:
    """Demo catalog products that also have a larger picture (from products_hires.csv)."""
    catalog = Catalog(DEMO / "catalog.db", DEMO)
    names = sorted(p.stem for p in (DEMO / "images" / "demo-large").glob("*.jpg"))[:n]
    rows = catalog.get_many([f"demo:{name}" for name in names])
    return [catalog.to_product(rows[f"demo:{name}"]) for name in names]


@pytest.mark.parametrize("reason, message", [(r, m) for r, m in [*MESSAGES.items(),
                                                                  *BAD_INPUT_MESSAGES.items()]
                                             if r != "ok"])
def test_rejections_are_plain_words_without_reason_codes(reason, message):
    text = cards.rejection(GateVerdict(False, reason, message))
    assert reason not in text and "reason" not in text
    assert text == message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_boxes_on_the_photo_are_named_for_people():
    photo = (FIXTURES / "people" / "full_ccp_0032.jpg").read_bytes()
    found = [Detection("topwear", (60, 80, 300, 300), 0.35, "yolo"),
             Detection("footwear", (90, 500, 200, 560), 0.8, "pose")]
    names = []
    render(photo, found, label=lambda d: names.append(cards.label(d.category)) or names[-1])
    assert names == ["Top", "Shoes"]
    assert [cards.label(c) for c in ("bottomwear", "handbag", "eyewear")] == \
        ["Bottom", "Bag", "Sunglasses"]
    shown = boxed_jpeg(photo, found)
    image = render(photo, found, label=lambda d: cards.label(d.category))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=88)
    assert shown == buf.getvalue(), "the bot draws the people's labels"
    debug = render(photo, found, label=debug_label)
    assert debug.tobytes() != image.tobytes() and debug_label(found[0]) == "topwear 0.35 yolo"


def test_budget_says_when_the_catalog_has_no_prices():
    assert "no prices" in cards.budget_set(2000, 0, 4915)
    assert "Only 10 of 100" in cards.budget_set(2000, 10, 100)
    assert cards.budget_set(2000, 100, 100) == "OK: products up to ₹2,000."
    assert cards.budget_set(None, 0, 100) == "OK: no price limit."
    unpriced = cards.caption("bottomwear", [small(1), small(2)], budget=1500)
    assert "None of these lists a price" in unpriced and "₹1,500" in unpriced
    assert "No prices" not in cards.caption("bottomwear", [small(1), small(2, 999)], budget=1500)
    assert "No prices" not in cards.caption("bottomwear", [small(1)], budget=None)


def test_small_pictures_get_small_tiles_never_blown_up_more_than_twice():
    products = [small(i) for i in range(5)]
    pictures = [collage.picture(p) for p in products]
    assert {p.size for p in pictures} == {(60, 80)}
    layout = collage.layout_for(pictures)
    assert layout is collage.SMALL and layout.tile_w / 60 <= collage.MAX_UPSCALE
    image = Image.open(io.BytesIO(collage.collage(products)))
    assert image.size == (5 * (layout.tile_w + collage.PAD) + collage.PAD,
                          layout.tile_h + layout.text_h + 2 * collage.PAD)  # five in one row


def test_larger_copies_are_used_where_the_catalog_has_them():
    products = demo_with_larger_copies(5)
    assert len(products) == 5
    for p in products:
        assert Image.open(p.image).size == (60, 80) and larger_copy(p.image).exists()
        assert collage.picture(p).size == Image.open(larger_copy(p.image)).size
    assert collage.layout_for([collage.picture(p) for p in products]) is collage.LARGE
    image = Image.open(io.BytesIO(collage.collage(products)))
    assert image.width == 3 * (collage.LARGE.tile_w + collage.PAD) + collage.PAD
    mixed = [collage.picture(p) for p in products[:2] + [small(1)]]
    assert collage.layout_for(mixed) is collage.SMALL, "one small picture sets the tile size"


def test_tiles_show_the_title_as_well_as_the_brand():
    p = small(1)
    assert collage.title_without_brand(p) == "Men Blue Slim Fit Denim Jeans"
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    lines = collage.wrap(draw, collage.title_without_brand(p), collage.SMALL.title,
                         collage.SMALL.tile_w - 4, 2)
    assert 1 <= len(lines) <= 2 and " ".join(lines).startswith("Men Blue")
    assert all(draw.textlength(line, font=collage.font(collage.SMALL.title))
               <= collage.SMALL.tile_w - 4 for line in lines)
    long = collage.wrap(draw, "Extraordinarily Long Product Name " * 5, 12, 116, 2)
    assert len(long) == 2 and long[-1].endswith("…")


def test_tiles_are_drawn_once_and_again_when_the_product_or_its_picture_changes(tmp_path):
    import os
    import shutil

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        shutil.copy(SMALL_IMAGES[i], folder / f"{i}.jpg")

    def product(i: int, price=None) -> Product:
        return Product(id=str(i), title="Roadster Men Blue Slim Fit Denim Jeans", brand="Roadster",
                       price=price, url=f"https://www.myntra.com/{i}", image=str(folder / f"{i}.jpg"))

    collage._tile.cache_clear()  # other tests' cards may have filled it
    kept, before = collage._tile.cache, 0
    first = collage.collage([product(i) for i in range(3)])
    assert len(kept) == before + 3
    assert collage.collage([product(i) for i in range(3)]) == first and len(kept) == before + 3
    numbered = collage.collage([product(i) for i in range(3)], first=4)
    assert numbered != first and len(kept) == before + 3, "the numbers are not part of a tile"
    priced = collage.collage([product(0, price=1299), product(1), product(2)])
    assert priced != first and len(kept) == before + 4, "a new price draws a new tile"
    shutil.copy(SMALL_IMAGES[5], folder / "1.jpg")  # the nightly crawl replaced a picture
    stat = (folder / "1.jpg").stat()
    os.utime(folder / "1.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert collage.collage([product(i) for i in range(3)]) != first and len(kept) == before + 5
    assert kept.maxsize == collage.TILE_CACHE_BYTES
    tile = collage.tile(product(2), collage.sources(product(2)), collage.SMALL)
    assert kept.getsizeof(tile) == tile.width * tile.height * 3  # bounded by the pixels kept


def test_the_summary_says_whose_picks_and_how_sure():
    from core.records import LookResult

    ok = GateVerdict(True, "ok", "")
    said = lambda **kw: cards.whose(LookResult("p.jpg", ok, **kw))
    assert said(gender="women", gender_source="photo",
                wearer={"gender": "women"}) == "Women's picks · /gender to change"
    # an unsure wearer: unisex and the likelier gender's products, and a nudge to choose
    assert said(gender="women", gender_source="photo", wearer={"gender": "unsure"}) == \
        "Not sure whose: unisex or women's picks · /gender to choose"
    assert said(gender="men", gender_source="you") == "Men's picks, as you chose · /gender to change"


def test_captions_count_what_telegram_counts_and_cut_titles_with_an_ellipsis():
    from bot.saved_cards import SavedProduct, saved_caption

    catalog = Catalog(DEMO / "catalog.db", DEMO)
    rows = list(catalog.db.query("select id from products where title like 'United Colors%' "
                                 "order by id limit 10"))
    products = [SavedProduct(**catalog.to_product(r).__dict__)
                for r in catalog.get_many([r["id"] for r in rows]).values()]
    assert len(products) == 10
    text = saved_caption(products, 1, 12)
    # ten links' markup is past 1024 characters, what Telegram shows is not: the titles stay
    assert len(text) > cards.CAPTION_LIMIT >= cards.visible_length(text)
    lines = text.splitlines()[1:]
    for p, line in zip(products, lines):
        assert f"<b>{p.brand}</b>" in line  # the brand once, apart, then the rest of the title
        shown = line.split("</b> ", 1)[1].split("</a>")[0]
        rest = collage.title_without_brand(p)
        assert shown == rest or (shown.endswith("…") and rest.startswith(shown[:-1]))
    assert cards.visible_length("<b>A&amp;B</b> ₹") == 5 and cards.visible_length("👗") == 2


def test_nothing_found_names_the_filters_that_may_be_why():
    assert cards.nothing_found("handbag", None, more=False, gender="kids") == \
        "I found no kids' bag products like this one in the catalog (/gender to change)."
    assert cards.nothing_found("footwear", 500, more=False, gender="women") == \
        "I found no women's shoes products under ₹500 like this one in the catalog " \
        "(/gender or /budget to change)."
    assert cards.nothing_found("eyewear", None, more=False) == \
        "I found no sunglasses products like this one in the catalog."
    assert cards.nothing_found("topwear", None, more=True, gender="men") == \
        "No more men's top products like this one."
