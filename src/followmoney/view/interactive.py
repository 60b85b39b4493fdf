"""An interactive link chart: one self-contained HTML fragment, no library to load, works offline.

The static chart (:class:`followmoney.view.plot.LinkChartDisplay`) stays for print.
This one is for exploring on screen, in the evidence pack and in Jupyter:

* it opens on the subject and its direct links; **click a node** to expand its
  neighbourhood (click again to collapse what it opened);
* **filter** payments by time window (from / to, UTC) and by minimum amount; role and
  identifier links are always shown;
* nodes are **coloured** by the band of their case (urgent, priority, review,
  monitor) where they are a case subject, else by kind, and outlined by likely role
  (controller, potential victim); hover shows name, id, role, risk and, on payments,
  the exact amount per currency, count and dates.

Node and edge data are embedded as JSON (``<`` escaped, so no data can end the
script) and every text is set with ``textContent``: names holding HTML are shown, never
run. Positions come from a seeded spring layout computed in Python, so the same case
draws the same picture.
"""

from __future__ import annotations

import html
import json
from itertools import count

import pyarrow as pa

from followmoney.core.bundle import Bundle

__all__ = ["interactive_chart_html", "InteractiveLinkChart"]

_ids = count(1)

_BAND = {"urgent": "#b00020", "priority": "#d35400", "review": "#b7950b", "monitor": "#607d8b"}
_KIND = {"account": "#1f77b4", "cluster": "#2ca02c", "party": "#2ca02c", "identifier": "#ff7f0e"}

_JS = r"""
(function(){
var root=document.getElementById(ROOT), D=JSON.parse(root.querySelector('script[type="application/json"]').textContent);
var svg=root.querySelector('svg'), NS=svg.namespaceURI, tip=root.querySelector('.fm-tip');
var byId={}, adj={}; D.nodes.forEach(function(n){byId[n.id]=n; adj[n.id]=[];});
D.edges.forEach(function(e,i){e.i=i; adj[e.s].push(e); adj[e.t].push(e);});
var open={}; open[D.subject]=true; var shown={};
function inWindow(e){
  if(e.rel!=='payment') return true;
  var f=root.querySelector('.fm-from').value, t=root.querySelector('.fm-to').value, m=parseFloat(root.querySelector('.fm-min').value||'0');
  if(f && e.last && e.last.slice(0,10)<f) return false;
  if(t && e.first && e.first.slice(0,10)>t) return false;
  if(m && e.max<m) return false;
  return true;
}
function visible(){
  shown={}; shown[D.subject]=true;
  var ids=Object.keys(open);
  ids.forEach(function(id){ if(!byId[id]) return; shown[id]=true; adj[id].forEach(function(e){ if(inWindow(e)){ shown[e.s]=true; shown[e.t]=true; } }); });
}
function el(name, attrs){ var x=document.createElementNS(NS,name); for(var k in attrs) x.setAttribute(k,attrs[k]); return x; }
function showTip(ev, lines){ tip.textContent=''; lines.forEach(function(l){ var d=document.createElement('div'); d.textContent=l; tip.appendChild(d); });
  tip.style.display='block'; tip.style.left=(ev.offsetX+12)+'px'; tip.style.top=(ev.offsetY+12)+'px'; }
function draw(){
  visible();
  while(svg.lastChild) svg.removeChild(svg.lastChild);
  var g=el('g',{}); svg.appendChild(g);
  var n=0;
  D.edges.forEach(function(e){
    if(!shown[e.s]||!shown[e.t]||!inWindow(e)) return;
    var a=byId[e.s], b=byId[e.t];
    var line=el('line',{x1:a.x,y1:a.y,x2:b.x,y2:b.y,'class':'fm-edge fm-'+e.rel,'stroke-width':e.rel==='payment'?e.w:1,'data-edge':e.i});
    if(e.rel==='payment') line.setAttribute('marker-end','url(#'+ROOT+'-arrow)');
    line.addEventListener('mousemove',function(ev){ showTip(ev, e.tip); });
    line.addEventListener('mouseleave',function(){ tip.style.display='none'; });
    g.appendChild(line);
  });
  D.nodes.forEach(function(d){
    if(!shown[d.id]) return; n++;
    var c=el('circle',{cx:d.x,cy:d.y,r:d.id===D.subject?11:7,fill:d.color,'class':'fm-node'+(open[d.id]?' fm-open':'')+(d.role?' fm-role-'+d.role:''),'data-node':d.id});
    c.addEventListener('click',function(){ if(open[d.id]&&d.id!==D.subject){ delete open[d.id]; } else { open[d.id]=true; } draw(); });
    c.addEventListener('mousemove',function(ev){ showTip(ev, d.tip); });
    c.addEventListener('mouseleave',function(){ tip.style.display='none'; });
    g.appendChild(c);
    var t=el('text',{x:d.x,y:d.y+20,'class':'fm-label'}); t.textContent=d.label; g.appendChild(t);
  });
  var defs=el('defs',{}), m=el('marker',{id:ROOT+'-arrow',viewBox:'0 0 10 10',refX:22,refY:5,markerWidth:9,markerHeight:9,markerUnits:'userSpaceOnUse',orient:'auto-start-reverse'});
  m.appendChild(el('path',{d:'M 0 0 L 10 5 L 0 10 z',fill:'#555'})); defs.appendChild(m); svg.insertBefore(defs, svg.firstChild);
  root.querySelector('.fm-count').textContent=n+' of '+D.nodes.length+' nodes shown; click a node to expand or collapse it';
  root.setAttribute('data-shown', n);
}
['.fm-from','.fm-to','.fm-min'].forEach(function(s){ root.querySelector(s).addEventListener('input', draw); });
root.querySelector('.fm-reset').addEventListener('click',function(){ open={}; open[D.subject]=true; draw(); });
draw();
var h=(location.hash||'').match(/fm-click=([^&]+)/);
if(h){ var target=root.querySelector('circle[data-node="'+decodeURIComponent(h[1]).replace(/"/g,'')+'"]'); if(target) target.dispatchEvent(new MouseEvent('click',{bubbles:true})); }
})();
"""

_CSS = """
.fm-chart{position:relative;border:1px solid #ddd;font:12px system-ui,sans-serif;margin:.5em 0}
.fm-chart .fm-bar{padding:4px 6px;background:#f7f7f7;border-bottom:1px solid #ddd}
.fm-chart .fm-bar input{margin:0 8px 0 2px;font-size:12px}
.fm-chart svg{width:100%;height:560px;display:block;background:#fff}
.fm-chart .fm-edge{stroke:#888;opacity:.75}.fm-chart .fm-payment{stroke:#555}
.fm-chart .fm-holder,.fm-chart .fm-signatory,.fm-chart .fm-director,.fm-chart .fm-beneficial_owner,.fm-chart .fm-controller,.fm-chart .fm-other,.fm-chart .fm-has_identifier{stroke-dasharray:4 3}
.fm-chart .fm-node{stroke:#fff;stroke-width:2;cursor:pointer}.fm-chart .fm-open{stroke:#222}
.fm-chart .fm-role-controller{stroke:#b00020;stroke-width:3}.fm-chart .fm-role-potential_victim{stroke:#1565c0;stroke-width:3}
.fm-chart .fm-label{font-size:10px;text-anchor:middle;fill:#222;pointer-events:none}
.fm-chart .fm-tip{position:absolute;display:none;background:#fffff0;border:1px solid #bbb;padding:4px 6px;pointer-events:none;max-width:420px;z-index:5}
.fm-chart .fm-count{color:#666;margin-left:8px}
"""


def _layout(G, subject, width: float, height: float, seed: int) -> dict:
    import math

    import networkx as nx

    U = nx.Graph(G)
    pos = nx.spring_layout(U, seed=seed, k=1.6 / math.sqrt(max(U.number_of_nodes(), 1)), center=(0, 0), weight=None)
    if subject in pos:
        sx, sy = pos[subject]
        pos = {n: (x - sx, y - sy) for n, (x, y) in pos.items()}
    span = max((max(abs(x), abs(y)) for x, y in pos.values()), default=1.0) or 1.0
    return {n: (round(width / 2 + x / span * (width / 2 - 60), 1), round(height / 2 + y / span * (height / 2 - 40), 1)) for n, (x, y) in pos.items()}


def interactive_chart_html(
    bundle: Bundle,
    subject: str,
    *,
    resolution=None,
    names=None,
    cases: pa.Table | None = None,
    hops: int = 2,
    max_nodes: int = 200,
    seed: int = 0,
) -> str:
    """The interactive link chart around ``subject`` as a self-contained HTML fragment.

    Parameters
    ----------
    bundle : Bundle
        The run's tables (see :func:`followmoney.graph.analyst_graph`).
    subject : str
        An account id, party id, cluster id or identifier subject (``phone:+9715...``).
    resolution : followmoney.resolve.Resolution, optional
        Resolved here when None; mentions of one person are one node.
    names : followmoney.names.Names, optional
    cases : pyarrow.Table, optional
        Colours case subjects by band and outlines them by role.
    hops : int, default 2
        Links (roles, identifiers, payments) from the subject included in the data;
        the chart opens on the first hop and expands on click.
    max_nodes : int, default 200
        Nodes embedded at most (nearest first).
    seed : int, default 0
        Seed of the layout.

    Returns
    -------
    str
        A ``<div class="fm-chart">`` with its data (JSON), style and script.

    Examples
    --------
    >>> import followmoney as fm
    >>> html_text = interactive_chart_html(fm.read(fm.sample_data_path() / "goaml"), "DEXB/1001002001")
    >>> "Tariq Fictus" in html_text and "<script>" in html_text
    True
    """
    import networkx as nx

    from followmoney.graph import analyst_graph
    from followmoney.names import display_names
    from followmoney.resolve import resolve

    res = resolution if resolution is not None else resolve(bundle)
    names = names if names is not None else display_names(bundle, res)
    G = analyst_graph(bundle, res, names=names, cases=cases)
    cmap = res.cluster_map()
    start = cmap.get(subject, subject)
    if start not in G and f"id:{subject}" in G:
        start = f"id:{subject}"
    if start not in G:
        return "<p class='muted'>The subject is not in the link data: no interactive chart.</p>"
    dist = nx.single_source_shortest_path_length(nx.Graph(G), start, cutoff=hops)
    keep = sorted(dist, key=lambda n: (dist[n], str(n)))[:max_nodes]
    H = G.subgraph(keep).copy()
    pos = _layout(H, start, 960, 560, seed)
    nodes = []
    for n, d in H.nodes(data=True):
        color = _BAND.get(d.get("band")) or _KIND.get(d.get("kind"), "#7f7f7f")
        tip = [d.get("label") or str(n), f"id: {n}", f"kind: {d.get('kind')}"]
        if d.get("case_id"):
            tip += [f"case {d['case_id']}: {d.get('band')}, risk {d.get('risk_score', 0):.2f}, {str(d.get('role')).replace('_', ' ')}"]
        nodes.append({"id": str(n), "x": pos[n][0], "y": pos[n][1], "label": (d.get("label") or str(n))[:40], "color": color,
                      "role": d.get("role") if d.get("case_id") else None, "tip": tip})  # fmt: skip
    edges = []
    for u, v, d in H.edges(data=True):
        rel = d.get("relation")
        if rel == "payment":
            amount = d.get("weight") or 0.0
            tip = [f"{d.get('label')}", f"{d['currency']} {d['amount']} in {d['count']} payment(s)",
                   f"{d['first']:%Y-%m-%d %H:%M} .. {d['last']:%Y-%m-%d %H:%M} UTC" if d.get("first") else ""]  # fmt: skip
            import math

            edges.append({"s": str(u), "t": str(v), "rel": rel, "w": round(0.8 + 0.5 * math.log10(1 + amount), 2), "max": amount,
                          "first": d["first"].isoformat() if d.get("first") else None,
                          "last": d["last"].isoformat() if d.get("last") else None, "tip": [t for t in tip if t]})  # fmt: skip
        else:
            edges.append({"s": str(u), "t": str(v), "rel": rel or "other", "tip": [str(rel or "link").replace("_", " ")]})
    data = {"subject": str(start), "nodes": nodes, "edges": edges}
    payload = json.dumps(data, ensure_ascii=False, default=str).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    root = f"fm-chart-{next(_ids)}"
    return (
        f"<div class='fm-chart' id='{root}'><style>{_CSS}</style>"
        "<div class='fm-bar'>payments from <input type='date' class='fm-from'> to <input type='date' class='fm-to'>"
        " at least <input type='number' class='fm-min' min='0' step='any' placeholder='amount' style='width:7em'>"
        "<button type='button' class='fm-reset'>reset</button><span class='fm-count'></span></div>"
        f"<svg viewBox='0 0 960 560' role='img' aria-label='interactive link chart'></svg><div class='fm-tip'></div>"
        f"<script type='application/json'>{payload}</script>"
        f"<script>{_JS.replace('ROOT', json.dumps(root))}</script></div>"
    )


class InteractiveLinkChart:
    """The interactive link chart for Jupyter (renders itself; see :func:`interactive_chart_html`).

    Jupyter shows it in a sandboxed ``<iframe>`` (its script runs there, whatever the
    notebook's trust); :meth:`to_html` gives the fragment for a page of one's own.

    Parameters
    ----------
    bundle : Bundle
    subject : str
    **kwargs
        Passed to :func:`interactive_chart_html`.

    Examples
    --------
    >>> import followmoney as fm
    >>> chart = InteractiveLinkChart(fm.read(fm.sample_data_path() / "goaml"), "DEXB/1001002001")
    >>> "<iframe" in chart._repr_html_()
    True
    """

    def __init__(self, bundle: Bundle, subject: str, **kwargs):
        self._html = interactive_chart_html(bundle, subject, **kwargs)

    def to_html(self) -> str:
        """The chart's HTML fragment."""
        return self._html

    def _repr_html_(self) -> str:
        doc = f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body style='margin:0'>{self._html}</body></html>"
        return (f"<iframe sandbox='allow-scripts' style='width:100%;height:640px;border:0' "
                f"srcdoc=\"{html.escape(doc, quote=True)}\"></iframe>")  # fmt: skip
