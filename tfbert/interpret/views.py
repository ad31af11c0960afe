"""Self-contained HTML views (no CDN: they work offline, and inline in a notebook through `IPython.display.HTML`):
an interactive view of a Transformer's attention, and word attributions as coloured text.

    views.write_attention("attention.html", tokens, attention)   # attention: (layers, heads, T, T)
    views.write_words("words.html", [ig, shap, lime], class_names)  # attributions.WordAttribution each

Head view (as BertViz draws it): the tokens in two columns and, for each selected head, a line from token i on
the left to token j on the right, as opaque as the weight i gives j. A layer selector, a toggle per head, and
hovering a token on the left keeps only its lines. Model view: every layer x head as a thumbnail of the same
lines; clicking one opens it in the head view. For a sentence pair, `segments` (a segment id per token) draws a
rule between the two sentences. The page's address can choose where it starts: `attention.html#layer=2&head=3`
(1-based), the same as choosing them by hand.
"""
import html
import json
import uuid

import numpy as np

from tfbert import files

SMALLEST = 0.01  # lines for weights below this are not drawn: attention is peaked, and thousands of faint lines hide it

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="margin: 16px">
{view}
</body></html>
"""

VIEW = """<div class="tfbert-attention" id="{id}" style="font: 13px sans-serif; color: #222">
<style>
#{id} .controls {{ margin: 6px 0 10px 0 }}
#{id} .heads label {{ margin-right: 6px; cursor: pointer }}
#{id} .heads span {{ display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 2px }}
#{id} .token {{ cursor: default; font-family: monospace; font-size: 12px }}
#{id} .model {{ display: grid; gap: 4px; margin-top: 14px }}
#{id} .model canvas {{ border: 1px solid #ddd; cursor: pointer }}
#{id} .model canvas.chosen {{ border-color: #222 }}
</style>
<div class="title" style="font-weight: bold"></div>
<div class="controls">Layer <select class="layer"></select> &nbsp; Heads <span class="heads"></span></div>
<svg class="head-view" xmlns="http://www.w3.org/2000/svg"></svg>
<div class="model-title" style="margin-top: 14px">Model view: every layer (rows) and head (columns); click one to open it</div>
<div class="model"></div>
<script>
(function () {{
  const data = {data};
  const root = document.getElementById("{id}");
  const colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf", "#393b79", "#ad494a"];
  const tokens = data.tokens, attention = data.attention, layers = attention.length, heads = attention[0].length;
  const row = 18, top = 24, left = 170, right = 330, width = 500;
  const state = {{layer: 0, heads: new Set([...Array(heads).keys()]), focus: null}};
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = root.querySelector(".head-view");
  svg.setAttribute("width", width);
  svg.setAttribute("height", top + row * tokens.length + 8);
  root.querySelector(".title").textContent = data.title;

  const select = root.querySelector(".layer");
  for (let l = 0; l < layers; l++) {{
    const option = document.createElement("option");
    option.value = l; option.textContent = l + 1; select.appendChild(option);
  }}
  select.addEventListener("change", () => {{ state.layer = Number(select.value); render(); }});

  const toggles = root.querySelector(".heads");
  for (let h = 0; h < heads; h++) {{
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" checked data-head="${{h}}"><span style="background: ${{colors[h % colors.length]}}"></span>${{h + 1}}`;
    label.querySelector("input").addEventListener("change", (event) => {{
      event.target.checked ? state.heads.add(h) : state.heads.delete(h); render();
    }});
    toggles.appendChild(label);
  }}

  function element(name, attributes, text) {{
    const node = document.createElementNS(svgNS, name);
    for (const key in attributes) node.setAttribute(key, attributes[key]);
    if (text !== undefined) node.textContent = text;
    return node;
  }}
  const y = (i) => top + row * i + row / 2;

  // Drawn once: the column headers, the tokens (hover one to keep only its lines), the segment boundary.
  svg.appendChild(element("text", {{x: left, y: 12, "text-anchor": "end", fill: "#888"}}, "attends from"));
  svg.appendChild(element("text", {{x: right, y: 12, fill: "#888"}}, "to"));
  const lines = element("g", {{"class": "lines"}});
  svg.appendChild(lines);
  const froms = tokens.map((token, i) => {{
    const from = element("text", {{"class": "token", x: left, y: y(i) + 4, "text-anchor": "end"}}, token);
    from.addEventListener("mouseenter", () => {{ state.focus = i; render(); }});
    from.addEventListener("mouseleave", () => {{ state.focus = null; render(); }});
    svg.appendChild(from);
    svg.appendChild(element("text", {{"class": "token", x: right, y: y(i) + 4}}, token));
    return from;
  }});
  if (data.boundary !== null) {{  // the sentence pair's segment boundary
    const at = top + row * data.boundary;
    for (const x of [left, right]) {{
      svg.appendChild(element("line", {{"class": "segment-boundary", x1: x - 60, x2: x + 60, y1: at, y2: at,
                                        stroke: "#999", "stroke-dasharray": "4 3"}}));
    }}
  }}

  function render() {{  // the lines of the chosen layer and heads (and focus), and the model view's choice
    lines.replaceChildren();
    for (const h of state.heads) {{
      const weights = attention[state.layer][h];
      for (let i = 0; i < tokens.length; i++) {{
        if (state.focus !== null && i !== state.focus) continue;
        for (let j = 0; j < tokens.length; j++) {{
          if (weights[i][j] < data.smallest) continue;
          lines.appendChild(element("line", {{
            "class": `attention-line head-${{h}}`, "data-from": i, "data-to": j, "data-weight": weights[i][j],
            x1: left + 6, y1: y(i), x2: right - 6, y2: y(j), stroke: colors[h % colors.length],
            "stroke-width": 2, "stroke-opacity": weights[i][j]}}));
        }}
      }}
    }}
    froms.forEach((from, i) => from.setAttribute("font-weight", state.focus === i ? "bold" : "normal"));
    root.querySelectorAll(".model canvas").forEach((canvas) => {{
      const chosen = Number(canvas.dataset.layer) === state.layer && state.heads.size === 1 &&
                     state.heads.has(Number(canvas.dataset.head));
      canvas.classList.toggle("chosen", chosen);
    }});
  }}

  const grid = root.querySelector(".model");
  grid.style.gridTemplateColumns = `repeat(${{heads}}, 64px)`;
  const scale = 60 / Math.max(tokens.length, 1);
  for (let l = 0; l < layers; l++) {{
    for (let h = 0; h < heads; h++) {{
      const canvas = document.createElement("canvas");
      canvas.width = 64; canvas.height = 64; canvas.dataset.layer = l; canvas.dataset.head = h;
      canvas.title = `layer ${{l + 1}}, head ${{h + 1}}`;
      const context = canvas.getContext("2d");
      context.strokeStyle = colors[h % colors.length];
      for (let i = 0; i < tokens.length; i++) {{
        for (let j = 0; j < tokens.length; j++) {{
          const weight = attention[l][h][i][j];
          if (weight < data.smallest) continue;
          context.globalAlpha = weight;
          context.beginPath();
          context.moveTo(12, 2 + scale * (i + 0.5));
          context.lineTo(52, 2 + scale * (j + 0.5));
          context.stroke();
        }}
      }}
      canvas.addEventListener("click", () => open(l, h));
      grid.appendChild(canvas);
    }}
  }}

  function open(l, h) {{  // one layer and head in the head view, as if chosen by hand
    select.value = l;
    select.dispatchEvent(new Event("change"));
    toggles.querySelectorAll("input").forEach((box) => {{
      const wanted = Number(box.dataset.head) === h;
      if (box.checked !== wanted) {{ box.checked = wanted; box.dispatchEvent(new Event("change")); }}
    }});
  }}

  render();
  const start = new URLSearchParams(window.location.hash.slice(1));
  if (start.has("layer")) {{
    const l = Math.min(Math.max(Number(start.get("layer")) - 1, 0), layers - 1);
    start.has("head") ? open(l, Math.min(Math.max(Number(start.get("head")) - 1, 0), heads - 1))
                      : (select.value = l, select.dispatchEvent(new Event("change")));
  }}
}})();
</script>
</div>
"""


def attention_html(tokens, attention, title="", segments=None, page=False) -> str:
    """The view of `attention` ((layers, heads, T, T), rows summing to 1) over the T `tokens`, as an HTML fragment
    for a notebook, or a whole page (`page=True`). `segments`: (T,) segment ids; a rule marks where they change."""
    attention = np.asarray(attention, dtype=np.float64)
    if attention.ndim != 4 or attention.shape[2:] != (len(tokens), len(tokens)):
        raise ValueError(f"attention of shape {attention.shape} does not fit {len(tokens)} tokens: "
                         "expected (layers, heads, T, T)")
    boundary = None
    if segments is not None and len(set(segments)) > 1:
        boundary = int(np.flatnonzero(np.diff(np.asarray(segments)))[0]) + 1
    data = {"tokens": [str(token) for token in tokens], "attention": np.round(attention, 3).tolist(),
            "title": title, "boundary": boundary, "smallest": SMALLEST}
    # JSON inside <script>: "</" would end the script early, so it is escaped.
    view = VIEW.format(id=f"tfbert-attention-{uuid.uuid4().hex[:12]}", data=json.dumps(data).replace("</", "<\\/"))
    return PAGE.format(title=html.escape(title or "attention"), view=view) if page else view


def write_attention(path, tokens, attention, title="", segments=None):
    """Writes the attention view as a whole page to `path` (atomically)."""
    files.write_text(path, attention_html(tokens, attention, title, segments, page=True))


def words_html(attributions, class_names, title="", page=False) -> str:
    """Each attribution (`attributions.WordAttribution`, all of one text) as a line of its words, each on a background
    as strong as its score, red toward the explained class and blue away from it, scaled per line."""
    lines = []
    for a in attributions:
        largest = float(np.abs(a.scores).max()) or 1.0
        spans = []
        for word, score in zip(a.words, a.scores):
            strength = abs(float(score)) / largest
            color = f"rgba(214, 39, 40, {strength:.2f})" if score > 0 else f"rgba(31, 119, 180, {strength:.2f})"
            spans.append(f'<span class="word" title="{score:+.4f}" style="background: {color}; padding: 1px 2px">'
                         f"{html.escape(word)}</span>")
        lines.append(f'<tr><td style="padding: 4px 10px 4px 0; color: #555">{html.escape(a.method.replace("_", " "))}'
                     f'</td><td style="line-height: 1.9">{" ".join(spans)}</td></tr>')
    label = class_names[attributions[0].label] if attributions else ""
    view = (f'<div class="tfbert-words" style="font: 14px sans-serif">'
            f'<div style="font-weight: bold">{html.escape(title)}</div>'
            f'<div style="color: #555; margin: 4px 0">Why <b>{html.escape(label)}</b>: red words pushed toward it, blue '
            f"away; the stronger the colour, the larger the score (hover for it), scaled per explainer.</div>"
            f'<table>{"".join(lines)}</table></div>')
    return PAGE.format(title=html.escape(title or "word attributions"), view=view) if page else view


def write_words(path, attributions, class_names, title=""):
    files.write_text(path, words_html(attributions, class_names, title, page=True))
