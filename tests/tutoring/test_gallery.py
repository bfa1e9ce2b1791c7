"""Issue 10 item 12: test-artifacts/index.html shows every screenshot, by role and width."""

from tests.gallery import write_gallery


def test_the_gallery_groups_every_screenshot_by_role_and_width(tmp_path):
    names = ["walk-demo-parent-family-375.png", "walk-demo-parent-family-1280.png", "walk-demo-tutor-teach-768.png",
             "creator-history-phone.png", "sign-in-desktop.png"]
    for name in names:
        (tmp_path / name).write_bytes(b"\x89PNG")
    page = write_gallery(tmp_path).read_text()
    for name in names:
        assert f"<img src='{name}'" in page
    parent = page.split("<section id='parent'>")[1].split("</section>")[0]
    assert parent.index("<h3>375 px</h3>") < parent.index("walk-demo-parent-family-375.png") \
        < parent.index("<h3>1280 px</h3>") < parent.index("walk-demo-parent-family-1280.png")
    assert "creator-history-phone.png" in page.split("<section id='creator'>")[1].split("</section>")[0]
    assert "sign-in-desktop.png" in page.split("<section id='other pages'>")[1]


def test_no_screenshots_no_gallery(tmp_path):
    assert write_gallery(tmp_path) is None and not (tmp_path / "index.html").exists()
