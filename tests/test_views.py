"""The HTML views: their content, and the attention view's script run in a real (headless) browser."""
import re
import shutil
import subprocess

import numpy as np
import pytest

from tfbert.interpret import views
from tfbert.interpret.attributions import WordAttribution

TOKENS = ["[CLS]", "the", "coach", "[SEP]", "wins", "</script>", "[SEP]"]  # a pair; a token that could end a script
BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
               None)


def random_attention(layers=2, heads=3, seed=0):
    rng = np.random.default_rng(seed)
    attention = rng.random((layers, heads, len(TOKENS), len(TOKENS))) ** 4  # peaked, as attention is
    return attention / attention.sum(axis=-1, keepdims=True)


def test_the_attention_view_is_one_self_contained_page_with_its_data():
    page = views.attention_html(TOKENS, random_attention(), title="a pair", segments=[0, 0, 0, 0, 1, 1, 1], page=True)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page  # no CDN
    assert page.count("<script>") == 1 and page.count("</script>") == 1  # the token's "</script>" is escaped
    assert '"boundary": 4' in page  # the pair's segment boundary: after the first [SEP]
    with pytest.raises(ValueError, match="does not fit 7 tokens"):
        views.attention_html(TOKENS, random_attention()[:, :, :3, :3])


def test_the_words_view_colours_each_word_by_its_score():
    words = ["Oil", "prices", "fall"]
    page = views.words_html([WordAttribution("shap", words, np.array([0.5, -1.0, 0.0]), 2, 0.1)],
                            ["World", "Sports", "Business", "Sci/Tech"], page=True)
    spans = re.findall(r'<span class="word" title="([^"]+)" style="background: rgba\(([^)]+)\)[^>]*>([^<]+)<', page)
    assert [(title, word) for title, _, word in spans] == [("+0.5000", "Oil"), ("-1.0000", "prices"),
                                                          ("+0.0000", "fall")]
    assert spans[0][1] == "214, 39, 40, 0.50" and spans[1][1] == "31, 119, 180, 1.00"  # red toward, blue away
    assert "Why <b>Business</b>" in page


def browse(*args):
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def drawn_lines(dom):
    """(head, from, to, weight) of every attention line in the head view."""
    return sorted((int(head), int(i), int(j), float(w)) for head, i, j, w in re.findall(
        r'<line class="attention-line head-(\d+)" data-from="(\d+)" data-to="(\d+)" data-weight="([\d.e-]+)"', dom))


@pytest.mark.skipif(BROWSER is None, reason="no Chromium here (apt-get install chromium; .ci/run installs it)")
def test_in_a_browser_the_script_draws_the_chosen_heads_lines_and_a_layer_switch_redraws_them(tmp_path):
    attention = random_attention()
    path = tmp_path / "attention.html"
    views.write_attention(path, TOKENS, attention, title="browser test", segments=[0, 0, 0, 0, 1, 1, 1])

    def expected(layer, head):
        weights = np.round(attention[layer, head], 3)
        return sorted((head, i, j, float(weights[i, j])) for i, j in zip(*np.nonzero(weights >= views.SMALLEST)))

    first = drawn_lines(browse("--dump-dom", f"file://{path}#layer=1&head=3"))
    second = drawn_lines(browse("--dump-dom", f"file://{path}#layer=2&head=3"))
    assert first == expected(0, 2) and second == expected(1, 2) and first != second
    everything = browse("--dump-dom", f"file://{path}")  # at first: layer 1, every head
    assert {line[0] for line in drawn_lines(everything)} == {0, 1, 2}
    assert everything.count('class="segment-boundary"') == 2 and everything.count("<canvas") == 6  # 2 layers x 3

    screenshot = tmp_path / "attention.png"
    browse(f"--screenshot={screenshot}", "--window-size=900,700", f"file://{path}")
    import matplotlib.image

    pixels = matplotlib.image.imread(screenshot)[..., :3]  # (H, W, 3) in [0, 1]
    inked = (pixels.min(axis=-1) < 0.9).mean()  # lines, thumbnails and text on a white page
    assert 0.01 < inked < 0.5, inked
