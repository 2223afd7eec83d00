// The event display: asks the events API for an event and draws its "draw" data with plotly.js
// — in 3D (WebGL: rotate, zoom, pan) or in the r-φ and ρ-z projections — with a simplified
// CMS outline; collections shown or hidden, the table of physics objects (hover one to find
// it in the view), the invariant mass of those selected (the mass API), previous/next, and the
// address that keeps the file and the event. A file, never inline script: the page policy
// allows script from the portal's own files only (settings come as data attributes). Text
// from the server or a record is set as text (textContent), never as markup.
(function () {
  "use strict";
  var app = document.getElementById("ev-app");
  var config = {
    recid: app.getAttribute("data-recid"),
    api: app.getAttribute("data-api"),
    page: app.getAttribute("data-page")
  };
  var detector = JSON.parse(document.getElementById("ev-detector").textContent);
  var plot = document.getElementById("ev-plot");
  var statusLine = document.getElementById("ev-status");
  var errorBox = document.getElementById("ev-error");
  var fileSelect = document.getElementById("ev-file");
  var pick = document.getElementById("ev-pick");
  var prevButton = document.getElementById("ev-prev");
  var nextButton = document.getElementById("ev-next");
  var toggles = document.getElementById("ev-collections");
  var rows = document.getElementById("ev-rows");
  var massLine = document.getElementById("ev-mass");
  var clearButton = document.getElementById("ev-clear");
  var permalink = document.getElementById("ev-permalink");
  var viewButtons = Array.prototype.slice.call(document.querySelectorAll(".ev-views button"));

  // Colours of what is drawn, by the "draw" key an object comes under (ECAL and HCAL towers
  // apart); the outline is grey. Chosen to stay apart on the dark background.
  var COLOURS = {
    tracks: "#f7b32b",
    muons: "#ff4d4d",
    electrons: "#3bc9db",
    photons: "#8ce99a",
    jets: "#ffe066",
    met: "#f783ac",
    ecal: "#ff8c42",
    hcal: "#4dabf7",
    vertices: "#ffffff",
    other: "#b197fc",
    outline: "#5f7387",
    stations: "#9c5b6b",
    chambers: "#c2255c",
    highlight: "#ffffff",
    hover: "#ffe066"
  };
  var LINE_KEYS = ["tracks", "muons", "electrons", "photons"];
  // The order of the object table and of the toggles: what a masterclass looks for first.
  var ORDER = ["muons", "electrons", "photons", "jets", "met", "tracks", "towers", "chambers", "vertices"];
  var BARREL = /^(EB|HB|HO)/i; // towers the r-φ view shows (endcaps would cover them)

  var state = {
    file: app.getAttribute("data-file"),
    index: parseInt(app.getAttribute("data-event"), 10) || 0,
    total: null,
    event: null,
    view: "3d",
    hidden: {},
    selected: [],
    hover: null,
    listed: null, // the page of event ids in the picker: {page, events}
    pending: null,
    massPending: null
  };
  var drawn = { byId: {}, highlightTrace: -1 };

  // -- small helpers --------------------------------------------------------------------------

  function baseName(name) {
    return String(name).replace(/_V\d+$/, "");
  }

  function collectionOf(item, key) {
    if (item && item.collection) return String(item.collection);
    if (item && item.id) return String(item.id).split(":")[0];
    return key;
  }

  function encode(pairs) {
    return pairs.map(function (pair) {
      return encodeURIComponent(pair[0]) + "=" + encodeURIComponent(pair[1]);
    }).join("&");
  }

  function fileQuery() {
    return state.file ? encode([["file", state.file]]) : "";
  }

  function pageAddress(index) {
    var pairs = [];
    if (state.file) pairs.push(["file", state.file]);
    pairs.push(["event", String(index)]);
    return config.page + "?" + encode(pairs);
  }

  function number(value, digits) {
    return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "—";
  }

  function getJson(url, signal) {
    return fetch(url, { signal: signal, headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return [response.status, body]; },
          function () { return [response.status, { error: "the server answered " + response.status }]; });
      });
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function towerColour(collection) {
    return /^E/i.test(baseName(collection)) ? COLOURS.ecal : COLOURS.hcal;
  }

  function colourOf(key, collection) {
    if (key === "towers") return towerColour(collection);
    if (key === "chambers") return COLOURS.chambers;
    return COLOURS[key] || COLOURS.other;
  }

  function direction(eta, phi) {
    var theta = 2 * Math.atan(Math.exp(-eta));
    return [Math.sin(theta) * Math.cos(phi), Math.sin(theta) * Math.sin(phi), Math.cos(theta)];
  }

  function asPoint(value) {
    if (Array.isArray(value) && value.length >= 3) return [+value[0], +value[1], +value[2]];
    if (value && typeof value === "object") {
      var p = value.position || value.pos || value;
      if (Array.isArray(p)) return asPoint(p);
      if (typeof p.x === "number") return [p.x, p.y, p.z || 0];
    }
    return null;
  }

  // -- the detector outline -------------------------------------------------------------------

  // DETECTOR.lines: for each view, polylines ({name, group, points}) ready to draw — 3D
  // [[x, y, z], …], r-φ [[x, y], …] (barrel parts), ρ-z [[z, ρ], …] (ρ signed). One trace a
  // group, the muon stations apart from the rest.
  function outline(view) {
    var lines = (detector.lines && detector.lines[view === "3d" ? "3d" : view]) || [];
    var groups = {};
    lines.forEach(function (line) {
      var group = line.group === "muon" ? "muon" : "inner";
      var g = groups[group] || (groups[group] = { x: [], y: [], z: [] });
      (line.points || []).forEach(function (p) {
        g.x.push(p[0]); g.y.push(p[1]); if (view === "3d") g.z.push(p[2]);
      });
      g.x.push(null); g.y.push(null); if (view === "3d") g.z.push(null);
    });
    return Object.keys(groups).map(function (group) {
      var trace = {
        name: "CMS", hoverinfo: "skip", mode: "lines", showlegend: false, x: groups[group].x, y: groups[group].y,
        line: { color: group === "muon" ? COLOURS.stations : COLOURS.outline, width: view === "3d" ? 1.5 : 1 }
      };
      if (view === "3d") { trace.type = "scatter3d"; trace.z = groups[group].z; } else { trace.type = "scatter"; }
      return trace;
    });
  }

  // -- what an event draws --------------------------------------------------------------------

  // The drawable items of the event: [{key, collection, id, item}], every list of "draw".
  function drawables(draw) {
    var out = [];
    Object.keys(draw || {}).forEach(function (key) {
      var list = draw[key];
      if (!Array.isArray(list)) return;
      list.forEach(function (item, n) {
        if (!item || typeof item !== "object") {
          if (Array.isArray(item)) out.push({ key: key, collection: key, id: key + ":" + n, item: { position: item } });
          return;
        }
        var id = item.id !== undefined && item.id !== null ? String(item.id) : key + ":" + n;
        out.push({ key: key, collection: collectionOf(item, key), id: id, item: item });
      });
    });
    return out;
  }

  function project(point, view, sign) {
    if (view === "rphi") return [point[0], point[1]];
    var rho = Math.sqrt(point[0] * point[0] + point[1] * point[1]);
    return [point[2], sign * rho];
  }

  function signOf(points) {
    var last = points[points.length - 1];
    return last && last[1] < 0 ? -1 : 1;
  }

  function polyline(d) {
    var item = d.item;
    if (Array.isArray(item.points) && item.points.length >= 2) return item.points;
    if (typeof item.eta === "number" && typeof item.phi === "number") {
      // No stored path: a straight line to the calorimeter (photons, neutral objects).
      var u = direction(item.eta, item.phi), r = 1.3, z = 3.0;
      var t = Math.min(r / Math.max(Math.hypot(u[0], u[1]), 1e-9), z / Math.max(Math.abs(u[2]), 1e-9));
      return [[0, 0, 0], [u[0] * t, u[1] * t, u[2] * t]];
    }
    return null;
  }

  function jetGeometry(item) {
    var energy = typeof item.energy === "number" ? item.energy : (item.pt || 10) * Math.cosh(item.eta || 0);
    var length = typeof item.length === "number" ? item.length : Math.min(1.0 + energy / 50, 4.0);
    var radius = typeof item.radius === "number" ? item.radius : 0.3 * length;
    return { length: length, radius: radius };
  }

  function metLength(item) {
    return typeof item.length === "number" ? item.length : Math.min(1.0 + (item.pt || 0) / 25, 6.0);
  }

  function towerPoints(item) {
    if (Array.isArray(item.corners) && item.corners.length >= 8) return item.corners.slice(0, 8);
    if (typeof item.eta !== "number" || typeof item.phi !== "number") return null;
    // Eta, phi and energy only: a thin radial tower from the calorimeter's inner face.
    var u = direction(item.eta, item.phi);
    var rho = Math.hypot(u[0], u[1]);
    var inner = typeof item.r === "number" ? item.r : 1.29;
    var zFace = typeof item.z === "number" ? Math.abs(item.z) : 3.15;
    var t = Math.min(inner / Math.max(rho, 1e-9), zFace / Math.max(Math.abs(u[2]), 1e-9));
    var length = typeof item.length === "number" ? item.length : Math.min(0.05 + (item.energy || 0) * 0.03, 2.0);
    var half = 0.012;
    var side = [-Math.sin(item.phi) * half, Math.cos(item.phi) * half, 0];
    var base = [u[0] * t, u[1] * t, u[2] * t];
    var tip = [base[0] + u[0] * length, base[1] + u[1] * length, base[2] + u[2] * length];
    function off(p, s, dz) { return [p[0] + s * side[0], p[1] + s * side[1], p[2] + dz]; }
    return [off(base, 1, half), off(base, -1, half), off(base, -1, -half), off(base, 1, -half),
      off(tip, 1, half), off(tip, -1, half), off(tip, -1, -half), off(tip, 1, -half)];
  }

  function barrel(key, item, collection) {
    // What the r-φ view shows: barrel towers (EB, HB, HO) and barrel muon chambers (the
    // endcaps' would cover them).
    if (key === "towers") return BARREL.test(item.detector || baseName(collection));
    var z = 0;
    item.corners.forEach(function (p) { z += Math.abs(p[2]); });
    return z / item.corners.length < 6.6;
  }

  function hull(points) {
    // Monotone chain: the outline of a tower's corners in a projection.
    var p = points.slice().sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    if (p.length < 3) return p;
    function cross(o, a, b) { return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]); }
    var lower = [], upper = [];
    p.forEach(function (q) {
      while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop();
      lower.push(q);
    });
    for (var i = p.length - 1; i >= 0; i--) {
      while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p[i]) <= 0) upper.pop();
      upper.push(p[i]);
    }
    return lower.slice(0, -1).concat(upper.slice(0, -1));
  }

  function Group(key, collection, view, kind) {
    this.trace = {
      name: collection, legendgroup: collection, showlegend: false, customdata: [],
      x: [], y: [], hovertemplate: "%{customdata}<extra></extra>"
    };
    var colour = colourOf(key, collection);
    if (kind === "lines") {
      this.trace.mode = "lines";
      this.trace.line = { color: colour, width: key === "muons" ? (view === "3d" ? 5 : 2.5) : (view === "3d" ? 2.5 : 1.2) };
    } else if (kind === "fill") {
      this.trace.mode = "lines";
      this.trace.fill = "toself";
      this.trace.fillcolor = colour;
      this.trace.opacity = key === "jets" ? 0.35 : key === "chambers" ? 0.3 : 0.85;
      this.trace.line = { color: colour, width: 0.5 };
      this.trace.hoveron = "fills+points";
    } else if (kind === "mesh") {
      this.trace = {
        type: "mesh3d", name: collection, x: [], y: [], z: [], i: [], j: [], k: [], text: [],
        color: colour, opacity: key === "jets" ? 0.3 : key === "chambers" ? 0.25 : 0.8, flatshading: true,
        hovertemplate: "%{text}<extra></extra>", showscale: false,
        lighting: { ambient: 0.8, diffuse: 0.5 }
      };
    } else {
      this.trace.mode = "markers";
      this.trace.marker = { color: colour, size: view === "3d" ? 2.5 : 4 };
    }
    if (kind !== "mesh") {
      this.trace.type = view === "3d" ? "scatter3d" : "scatter";
      if (view === "3d") this.trace.z = [];
    }
  }

  Group.prototype.line = function (points, id, view, sign) {
    var t = this.trace;
    points.forEach(function (p) {
      if (view === "3d") { t.x.push(p[0]); t.y.push(p[1]); t.z.push(p[2]); }
      else { var q = project(p, view, sign); t.x.push(q[0]); t.y.push(q[1]); }
      t.customdata.push(id);
    });
    t.x.push(null); t.y.push(null); if (view === "3d") t.z.push(null); t.customdata.push(null);
  };

  Group.prototype.mesh = function (vertices, faces, id) {
    var t = this.trace, base = t.x.length;
    vertices.forEach(function (v) { t.x.push(v[0]); t.y.push(v[1]); t.z.push(v[2]); t.text.push(id); });
    faces.forEach(function (f) { t.i.push(base + f[0]); t.j.push(base + f[1]); t.k.push(base + f[2]); });
  };

  var BOX_FACES = [[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
    [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]];

  function cone(apex, axis, length, radius, steps) {
    // A cone's vertices (apex first) and faces: the jets of the 3D view.
    var a = axis, helper = Math.abs(a[2]) < 0.9 ? [0, 0, 1] : [1, 0, 0];
    var u = [a[1] * helper[2] - a[2] * helper[1], a[2] * helper[0] - a[0] * helper[2], a[0] * helper[1] - a[1] * helper[0]];
    var n = Math.hypot(u[0], u[1], u[2]); u = [u[0] / n, u[1] / n, u[2] / n];
    var v = [a[1] * u[2] - a[2] * u[1], a[2] * u[0] - a[0] * u[2], a[0] * u[1] - a[1] * u[0]];
    var vertices = [apex], faces = [];
    for (var i = 0; i < steps; i++) {
      var t = (2 * Math.PI * i) / steps, c = Math.cos(t) * radius, s = Math.sin(t) * radius;
      vertices.push([apex[0] + a[0] * length + u[0] * c + v[0] * s,
        apex[1] + a[1] * length + u[1] * c + v[1] * s, apex[2] + a[2] * length + u[2] * c + v[2] * s]);
      faces.push([0, 1 + i, 1 + ((i + 1) % steps)]);
    }
    return { vertices: vertices, faces: faces };
  }

  function wedge(view, item, geometry) {
    // A jet in a projection: a triangle from the vertex along its axis.
    var half = Math.atan2(geometry.radius, geometry.length), L = geometry.length;
    if (view === "rphi") {
      var lt = L * Math.sin(2 * Math.atan(Math.exp(-(item.eta || 0))));
      return [[0, 0], [lt * Math.cos(item.phi - half), lt * Math.sin(item.phi - half)],
        [lt * Math.cos(item.phi + half), lt * Math.sin(item.phi + half)], [0, 0]];
    }
    var theta = 2 * Math.atan(Math.exp(-(item.eta || 0)));
    var sign = Math.sin(item.phi) < 0 ? -1 : 1;
    return [[0, 0], [L * Math.cos(theta - half), sign * L * Math.sin(theta - half)],
      [L * Math.cos(theta + half), sign * L * Math.sin(theta + half)], [0, 0]];
  }

  // Traces and annotations of the event in ``view``, and where each object is (for highlights).
  function build(view) {
    var groups = {}, order = [], annotations = [], byId = {};
    function group(key, collection, kind) {
      var name = key + "|" + collection + "|" + kind;
      if (!groups[name]) { groups[name] = new Group(key, collection, view, kind); order.push(name); }
      return groups[name];
    }
    drawables(state.event.draw).forEach(function (d) {
      if (state.hidden[d.collection]) return;
      var item = d.item, key = d.key;
      if (key === "jets" && typeof item.phi === "number") {
        var geometry = jetGeometry(item);
        var axis = direction(item.eta || 0, item.phi);
        var tip = [axis[0] * geometry.length, axis[1] * geometry.length, axis[2] * geometry.length];
        if (view === "3d") {
          var c = cone([0, 0, 0], axis, geometry.length, geometry.radius, 20);
          group(key, d.collection, "mesh").mesh(c.vertices, c.faces, d.id);
        } else {
          var w = wedge(view, item, geometry), g = group(key, d.collection, "fill");
          w.forEach(function (q) { g.trace.x.push(q[0]); g.trace.y.push(q[1]); g.trace.customdata.push(d.id); });
          g.trace.x.push(null); g.trace.y.push(null); g.trace.customdata.push(null);
        }
        byId[d.id] = [[0, 0, 0], tip];
      } else if (key === "met" && typeof item.phi === "number") {
        var L = metLength(item);
        var end = Array.isArray(item.end) ? item.end : [L * Math.cos(item.phi), L * Math.sin(item.phi), 0];
        byId[d.id] = [[0, 0, 0], end];
        if (view === "3d") {
          group(key, d.collection, "lines").line([[0, 0, 0], end], d.id, view, 1);
          var head = { type: "cone", x: [end[0]], y: [end[1]], z: [0], u: [Math.cos(item.phi)], v: [Math.sin(item.phi)],
            w: [0], anchor: "tip", sizemode: "absolute", sizeref: 0.6, showscale: false,
            colorscale: [[0, COLOURS.met], [1, COLOURS.met]], hoverinfo: "skip", name: d.collection };
          order.push(head);
        } else {
          var q = project(end, view, Math.sin(item.phi) < 0 ? -1 : 1);
          group(key, d.collection, "lines").line([[0, 0, 0], end], d.id, view, Math.sin(item.phi) < 0 ? -1 : 1);
          annotations.push({ x: q[0], y: q[1], ax: 0, ay: 0, axref: "x", ayref: "y", xref: "x", yref: "y",
            showarrow: true, arrowhead: 2, arrowsize: 1.5, arrowwidth: 2, arrowcolor: COLOURS.met, text: "" });
        }
      } else if (key === "towers" || key === "chambers") {
        if (view === "rphi" && !barrel(key, item, d.collection)) return;
        var corners = key === "towers" ? towerPoints(item) : item.corners;
        if (!Array.isArray(corners) || corners.length < 8) return;
        if (!corners) return;
        if (view === "3d") {
          group(key, d.collection, "mesh").mesh(corners, BOX_FACES, d.id);
        } else {
          var sign = Math.sin(typeof item.phi === "number" ? item.phi : Math.atan2(corners[0][1], corners[0][0])) < 0 ? -1 : 1;
          var shape = hull(corners.map(function (p) { return project(p, view, sign); }));
          var gt = group(key, d.collection, "fill");
          shape.concat([shape[0]]).forEach(function (p) { gt.trace.x.push(p[0]); gt.trace.y.push(p[1]); gt.trace.customdata.push(d.id); });
          gt.trace.x.push(null); gt.trace.y.push(null); gt.trace.customdata.push(null);
        }
      } else if (key === "vertices") {
        var p = asPoint(item);
        if (!p) return;
        var gv = group(key, d.collection, "markers");
        var pv = view === "3d" ? p : project(p, view, p[1] < 0 ? -1 : 1);
        gv.trace.x.push(pv[0]); gv.trace.y.push(pv[1]); if (view === "3d") gv.trace.z.push(pv[2]);
        gv.trace.customdata.push(d.id);
      } else {
        var points = polyline(d);
        if (!points) return;
        if (LINE_KEYS.indexOf(key) < 0 && !Array.isArray(item.points)) return;
        group(key, d.collection, "lines").line(points, d.id, view, signOf(points));
        byId[d.id] = points;
      }
    });
    var traces = outline(view);
    order.forEach(function (entry) { traces.push(typeof entry === "string" ? groups[entry].trace : entry); });
    return { traces: traces, annotations: annotations, byId: byId };
  }

  function highlightTrace(view) {
    var xs = [], ys = [], zs = [], colours = [];
    function add(id, colour) {
      var points = drawn.byId[id];
      if (!points) return;
      var sign = signOf(points);
      points.forEach(function (p) {
        if (view === "3d") { xs.push(p[0]); ys.push(p[1]); zs.push(p[2]); }
        else { var q = project(p, view, sign); xs.push(q[0]); ys.push(q[1]); }
        colours.push(colour);
      });
      xs.push(null); ys.push(null); zs.push(null); colours.push(colour);
    }
    state.selected.forEach(function (id) { add(id, COLOURS.highlight); });
    if (state.hover) add(state.hover, COLOURS.hover);
    var trace = { name: "highlight", mode: "lines", hoverinfo: "skip", showlegend: false, x: xs, y: ys,
      line: { color: state.hover && !state.selected.length ? COLOURS.hover : COLOURS.highlight, width: view === "3d" ? 8 : 3.5 } };
    if (view === "3d") { trace.type = "scatter3d"; trace.z = zs; } else { trace.type = "scatter"; }
    return trace;
  }

  function layout(view, annotations) {
    var dark = "#0b0f14", grid = "#1f2a36", ink = "#c9d4df";
    var base = {
      paper_bgcolor: dark, plot_bgcolor: dark, font: { color: ink, size: 11 },
      margin: { t: 10, r: 10, b: 40, l: 50 }, showlegend: false, hovermode: "closest",
      uirevision: view, annotations: annotations || []
    };
    if (view === "3d") {
      var hidden = { visible: false, showspikes: false };
      base.margin = { t: 0, r: 0, b: 0, l: 0 };
      base.scene = {
        bgcolor: dark, aspectmode: "data", xaxis: hidden, yaxis: hidden, zaxis: hidden,
        // The beam (z) across the screen, y up: how CMS's own displays open.
        camera: { up: { x: 0, y: 1, z: 0 }, eye: { x: 1.15, y: 0.55, z: 1.35 }, center: { x: 0, y: 0, z: 0 } },
        dragmode: "orbit", uirevision: "3d"
      };
      return base;
    }
    var axis = { gridcolor: grid, zerolinecolor: grid, color: ink };
    base.xaxis = Object.assign({ title: { text: view === "rphi" ? "x (m)" : "z (m)" } }, axis);
    // Equal scales: a circle stays a circle.
    base.yaxis = Object.assign({ title: { text: view === "rphi" ? "y (m)" : "ρ (m), signed by φ" },
      scaleanchor: "x", scaleratio: 1 }, axis);
    base.dragmode = "pan";
    return base;
  }

  // What the mouse does in each view (text only: set with textContent).
  var HINTS = {
    "3d": "3D: drag to rotate, scroll or pinch to zoom, right-drag to pan. Hover an object to find it in the table.",
    "rphi": "r-φ, looking along the beam: drag to pan, scroll or pinch to zoom. Hover an object to find it in the table.",
    "rhoz": "ρ-z, seen from the side (ρ signed by y): drag to pan, scroll or pinch to zoom. Hover an object to find it in the table."
  };

  function render() {
    if (!state.event) return;
    var view = state.view;
    var built = build(view);
    drawn.byId = built.byId;
    var traces = built.traces.concat([highlightTrace(view)]);
    drawn.highlightTrace = traces.length - 1;
    var first = !plot.classList.contains("js-plotly-plot");
    var done = window.Plotly.react(plot, traces, layout(view, built.annotations),
      { responsive: true, displaylogo: false, scrollZoom: true,
        modeBarButtonsToRemove: ["toImage", "lasso2d", "select2d"] });
    if (first) wirePlot();
    var hint = document.querySelector(".ev-hint");
    if (hint) hint.textContent = HINTS[view] || HINTS["3d"];
    plot.setAttribute("data-view", view);
    plot.setAttribute("data-traces", String(traces.length));
    plot.setAttribute("data-drawn", Object.keys(drawnCollections(built.traces)).sort().join(","));
    return done.then(function () { plot.setAttribute("data-event", String(state.index)); });
  }

  function drawnCollections(traces) {
    var names = {};
    traces.forEach(function (t) {
      if (t.name && t.name !== "CMS" && t.name !== "highlight" && t.x && t.x.length) names[t.name] = true;
    });
    return names;
  }

  function updateHighlight() {
    if (!state.event || drawn.highlightTrace < 0 || !plot.data) return;
    var trace = highlightTrace(state.view);
    var update = { x: [trace.x], y: [trace.y], "line.color": [trace.line.color] };
    if (trace.z) update.z = [trace.z];
    window.Plotly.restyle(plot, update, [drawn.highlightTrace]);
  }

  function wirePlot() {
    plot.on("plotly_hover", function (event) {
      var point = event && event.points && event.points[0];
      var id = point && (point.customdata || point.text);
      if (typeof id === "string") setHover(id, "plot");
    });
    plot.on("plotly_unhover", function () { setHover(null, "plot"); });
    plot.on("plotly_relayout", function (change) {
      if (change && (change["scene.camera"] || change["scene.camera.eye"])) plot.setAttribute("data-rotated", "1");
    });
  }

  // -- the table, the toggles, the mass -------------------------------------------------------

  function categoryOf(name) {
    var draw = state.event.draw || {};
    for (var i = 0; i < ORDER.length; i++) {
      var list = draw[ORDER[i]];
      if (Array.isArray(list) && list.some(function (item) { return item && collectionOf(item, ORDER[i]) === name; })) return ORDER[i];
    }
    var base = baseName(name).toLowerCase();
    if (/muon/.test(base)) return "muons";
    if (/electron/.test(base)) return "electrons";
    if (/photon/.test(base)) return "photons";
    if (/jet/.test(base)) return "jets";
    if (/met/.test(base)) return "met";
    if (/track/.test(base)) return "tracks";
    return "other";
  }

  function collectionNames() {
    var counts = {}, drawnCount = {};
    var collections = state.event.collections || {};
    Object.keys(collections).forEach(function (name) { counts[name] = collections[name].length; });
    drawables(state.event.draw).forEach(function (d) {
      drawnCount[d.collection] = (drawnCount[d.collection] || 0) + 1;
      if (!(d.collection in counts)) counts[d.collection] = null;
    });
    var names = Object.keys(counts);
    names.sort(function (a, b) {
      var ca = ORDER.indexOf(categoryOf(a)), cb = ORDER.indexOf(categoryOf(b));
      ca = ca < 0 ? 99 : ca; cb = cb < 0 ? 99 : cb;
      return ca - cb || (a < b ? -1 : a > b ? 1 : 0);
    });
    return names.map(function (name) {
      return { name: name, count: counts[name] === null ? drawnCount[name] : counts[name], drawn: drawnCount[name] || 0 };
    });
  }

  function fillToggles() {
    toggles.textContent = "";
    collectionNames().forEach(function (entry, n) {
      var li = document.createElement("li");
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.id = "ev-c-" + n;
      box.checked = !state.hidden[entry.name];
      box.setAttribute("data-collection", entry.name);
      box.addEventListener("change", function () {
        if (box.checked) delete state.hidden[entry.name]; else state.hidden[entry.name] = true;
        fillRows();
        render();
      });
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      var category = categoryOf(entry.name);
      swatch.style.background = colourOf(category === "towers" ? "towers" : category, entry.name);
      var text = document.createElement("span");
      text.textContent = entry.name + " ";
      var count = document.createElement("span");
      count.className = "count";
      count.textContent = "(" + entry.count + ")";
      label.appendChild(box); label.appendChild(swatch); label.appendChild(text); label.appendChild(count);
      if (!entry.drawn) {
        var note = document.createElement("span");
        note.className = "undrawn";
        note.textContent = " listed, not drawn";
        label.appendChild(note);
      }
      li.appendChild(label);
      toggles.appendChild(li);
    });
  }

  function rowFor(id) {
    return rows.querySelector('tr[data-id="' + (window.CSS && CSS.escape ? CSS.escape(id) : id) + '"]');
  }

  function fillRows() {
    rows.textContent = "";
    var collections = state.event.collections || {};
    collectionNames().forEach(function (entry) {
      var objects = collections[entry.name];
      if (!Array.isArray(objects) || state.hidden[entry.name]) return;
      var colour = colourOf(categoryOf(entry.name), entry.name);
      objects.slice().sort(function (a, b) { return (b.pt || 0) - (a.pt || 0); }).forEach(function (obj) {
        var id = String(obj.id);
        var tr = document.createElement("tr");
        tr.setAttribute("data-id", id);
        tr.setAttribute("data-collection", entry.name);
        if (state.selected.indexOf(id) >= 0) tr.classList.add("is-selected");
        var pickCell = document.createElement("td");
        var box = document.createElement("input");
        box.type = "checkbox";
        box.checked = state.selected.indexOf(id) >= 0;
        box.setAttribute("aria-label", "Select " + id);
        box.addEventListener("change", function () { toggleSelected(id, box.checked); });
        pickCell.appendChild(box);
        var name = document.createElement("td");
        var swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = colour;
        name.appendChild(swatch);
        name.appendChild(document.createTextNode(id));
        tr.appendChild(pickCell);
        tr.appendChild(name);
        [[obj.pt, 2], [obj.eta, 3], [obj.phi, 3]].forEach(function (cell) {
          var td = document.createElement("td");
          td.className = "num";
          td.textContent = number(cell[0], cell[1]);
          tr.appendChild(td);
        });
        var charge = document.createElement("td");
        charge.className = "num";
        charge.textContent = typeof obj.charge === "number" ? (obj.charge > 0 ? "+" : obj.charge < 0 ? "−" : "") + Math.abs(obj.charge) : "—";
        tr.appendChild(charge);
        tr.addEventListener("mouseenter", function () { setHover(id, "table"); });
        tr.addEventListener("mouseleave", function () { setHover(null, "table"); });
        rows.appendChild(tr);
      });
    });
  }

  function setHover(id, from) {
    if (state.hover === id) return;
    if (state.hover) { var old = rowFor(state.hover); if (old) old.classList.remove("is-hover"); }
    state.hover = id;
    if (id) { var row = rowFor(id); if (row) row.classList.add("is-hover"); }
    plot.setAttribute("data-hover", id || "");
    if (from === "table") updateHighlight();
  }

  function toggleSelected(id, on) {
    var at = state.selected.indexOf(id);
    if (on && at < 0) state.selected.push(id);
    if (!on && at >= 0) state.selected.splice(at, 1);
    var row = rowFor(id);
    if (row) row.classList.toggle("is-selected", on);
    updateHighlight();
    updateMass();
  }

  function updateMass() {
    clearButton.hidden = state.selected.length === 0;
    massLine.removeAttribute("data-mass");
    if (state.massPending) state.massPending.abort();
    if (!state.selected.length) {
      massLine.textContent = "Select objects in the table (two muons, two electrons, four leptons…) to compute the invariant mass of their sum.";
      return;
    }
    state.massPending = new AbortController();
    massLine.textContent = "Computing…";
    var url = config.api + "/" + state.index + "/mass?" + (state.file ? fileQuery() + "&" : "") +
      encode([["ids", state.selected.join(",")]]);
    getJson(url, state.massPending.signal).then(function (result) {
      var status = result[0], body = result[1];
      massLine.textContent = "";
      if (status !== 200) { massLine.textContent = body.error || body.message || "the mass could not be computed"; return; }
      var strong = document.createElement("strong");
      strong.id = "ev-mass-value";
      strong.textContent = "M = " + number(body.mass, 2) + " GeV";
      massLine.appendChild(strong);
      massLine.appendChild(document.createTextNode(
        " · pT = " + number(body.pt, 2) + " GeV, of " + state.selected.length + " object" + (state.selected.length === 1 ? "" : "s")));
      massLine.setAttribute("data-mass", typeof body.mass === "number" ? String(body.mass) : "");
    }).catch(function (error) {
      if (error.name !== "AbortError") massLine.textContent = "the server could not be reached: " + error.message;
    });
  }

  // -- events and files -----------------------------------------------------------------------

  function describe(answer) {
    var parts = ["Event " + (answer.index + 1).toLocaleString("en") + " of " + answer.total.toLocaleString("en")];
    var ids = [];
    if (answer.run !== null && answer.run !== undefined) ids.push("run " + answer.run);
    if (answer.lumi !== null && answer.lumi !== undefined) ids.push("lumi section " + answer.lumi);
    if (answer.event !== null && answer.event !== undefined) ids.push("event " + answer.event);
    return parts.concat(ids).join(" · ");
  }

  function fillPicker() {
    if (!state.listed) return;
    pick.textContent = "";
    state.listed.events.forEach(function (e) {
      var option = document.createElement("option");
      option.value = String(e.index);
      var label = "Event " + (e.index + 1);
      if (e.run !== null && e.event !== null) label += " · " + e.run + ":" + e.event;
      option.textContent = label;
      if (e.index === state.index) option.selected = true;
      pick.appendChild(option);
    });
    pick.disabled = state.listed.events.length <= 1 && state.listed.total <= 1;
  }

  function loadList() {
    var size = 100, page = Math.floor(state.index / size) + 1;
    if (state.listed && state.listed.page === page && state.listed.file === state.file) { fillPicker(); return; }
    var url = config.api + "?" + (state.file ? fileQuery() + "&" : "") + encode([["page", String(page)], ["size", String(size)]]);
    getJson(url).then(function (result) {
      if (result[0] !== 200) return;
      state.listed = { page: page, file: state.file, events: result[1].events, total: result[1].total };
      fillPicker();
    }).catch(function () { /* the picker stays as it is; the event itself says what failed */ });
  }

  function updateNav() {
    prevButton.disabled = !(state.total !== null && state.index > 0);
    nextButton.disabled = !(state.total !== null && state.index + 1 < state.total);
    permalink.href = pageAddress(state.index);
  }

  function load(index, how) {
    if (state.pending) state.pending.abort();
    state.pending = new AbortController();
    state.index = index;
    if (how === "push") history.pushState(null, "", pageAddress(index));
    else if (how === "replace") history.replaceState(null, "", pageAddress(index));
    updateNav();
    statusLine.textContent = "Loading event " + (index + 1) + "…";
    plot.setAttribute("aria-busy", "true");
    showError("");
    var url = config.api + "/" + index + (state.file ? "?" + fileQuery() : "");
    getJson(url, state.pending.signal).then(function (result) {
      var status = result[0], body = result[1];
      plot.removeAttribute("aria-busy");
      if (status !== 200) {
        statusLine.textContent = "";
        showError(body.error || body.message || "the event could not be read (" + status + ")");
        return;
      }
      state.event = body;
      state.total = body.total;
      if (body.file && !state.file) state.file = body.file;
      state.selected = [];
      state.hover = null;
      statusLine.textContent = describe(body);
      updateNav();
      fillToggles();
      fillRows();
      updateMass();
      render();
      loadList();
    }).catch(function (error) {
      if (error.name === "AbortError") return;
      plot.removeAttribute("aria-busy");
      statusLine.textContent = "";
      showError("the server could not be reached: " + error.message);
    });
  }

  prevButton.addEventListener("click", function () { if (state.index > 0) load(state.index - 1, "push"); });
  nextButton.addEventListener("click", function () {
    if (state.total !== null && state.index + 1 < state.total) load(state.index + 1, "push");
  });
  pick.addEventListener("change", function () { load(parseInt(pick.value, 10) || 0, "push"); });
  if (fileSelect) {
    fileSelect.addEventListener("change", function () {
      state.file = fileSelect.value;
      state.listed = null;
      state.total = null;
      load(0, "push");
    });
  }
  clearButton.addEventListener("click", function () {
    state.selected = [];
    rows.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = false; });
    rows.querySelectorAll("tr.is-selected").forEach(function (tr) { tr.classList.remove("is-selected"); });
    updateHighlight();
    updateMass();
  });
  viewButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      state.view = button.getAttribute("data-view");
      viewButtons.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
      render();
    });
  });
  window.addEventListener("popstate", function () {
    var params = new URLSearchParams(window.location.search);
    var file = params.get("file");
    if (file && file !== state.file) {
      state.file = file; state.listed = null;
      if (fileSelect) fileSelect.value = file;
    }
    load(parseInt(params.get("event") || "0", 10) || 0, null);
  });

  load(state.index, "replace");
})();
