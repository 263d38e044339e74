/* Quorum: the worker's annotate page, and the shape editor that the review page reuses.
 *
 * Vanilla JS, no framework. The image is scaled to fit; an SVG overlay with viewBox
 * "0 0 width height" (the image's own pixels) lies exactly on top of it, so shapes are kept and
 * drawn in image pixels and only pointer positions are converted (screen -> image).
 * window.Quorum = {api, ShapeEditor, svgEl, categoryPicker, ...} is shared with review.js.
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var HANDLE_PX = 9; // handle size on screen
  var MIN_BOX_PX = 4; // a drag shorter than this on screen is a click, not a box
  var CLOSE_PX = 10; // clicking this close to a polygon's first vertex closes it

  // ---------------------------------------------------------------- the API
  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  /** Call the JSON API with the session; resolves to {ok, status, data, date}, never rejects
   * on an HTTP error. `message` is the server's sentence for an error, or a fallback. */
  function api(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (method !== "GET") {
      init.headers["X-CSRFToken"] = cookie("csrftoken");
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
    }
    return fetch(url, init).then(
      function (response) {
        var date = Date.parse(response.headers.get("Date") || "");
        return response.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          var result = { ok: response.ok, status: response.status, data: data, date: date };
          if (!response.ok) {
            var err = data && data.error;
            result.code = err ? err.code : "http_" + response.status;
            result.details = (err && err.details) || {};
            result.message = err && err.message
              ? err.message
              : (data && data.detail) || "The server answered " + response.status + ".";
          }
          return result;
        });
      },
      function () {
        return { ok: false, status: 0, code: "network", details: {}, data: null,
          message: "The server could not be reached. Check your connection and try again." };
      }
    );
  }

  // ---------------------------------------------------------------- small DOM helpers
  function svgEl(name, attrs) {
    var el = document.createElementNS(SVG_NS, name);
    for (var key in attrs) if (attrs[key] !== undefined) el.setAttribute(key, attrs[key]);
    return el;
  }

  function el(name, attrs, text) {
    var node = document.createElement(name);
    for (var key in attrs || {}) {
      if (key === "dataset") Object.assign(node.dataset, attrs[key]);
      else if (attrs[key] !== undefined) node.setAttribute(key, attrs[key]);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function round1(v) { return Math.round(v * 10) / 10; }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  function describe(region) {
    if (region.bbox) {
      var b = region.bbox;
      return Math.round(b[2]) + "×" + Math.round(b[3]) + " at (" + Math.round(b[0]) + ", " + Math.round(b[1]) + ")";
    }
    if (region.polygon) return (region.polygon.length / 2) + " points";
    return "";
  }

  /** Category radio buttons in `fieldset`; onPick(id) is called when the person picks one. */
  function categoryPicker(fieldset, categories, name, onPick) {
    var legend = fieldset.querySelector("legend");
    fieldset.replaceChildren(legend);
    var inputs = {};
    categories.forEach(function (cat, i) {
      var id = name + "-" + cat.id;
      var input = el("input", { type: "radio", name: name, id: id, value: String(cat.id) });
      var label = el("label", { for: id, class: "category" });
      var swatch = el("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = cat.color;
      label.append(swatch, document.createTextNode(cat.name));
      if (i < 9) label.append(el("kbd", { "aria-hidden": "true" }, String(i + 1)));
      input.addEventListener("change", function () { onPick(cat.id); });
      fieldset.append(el("div", { class: "category-row" }));
      fieldset.lastChild.append(input, label);
      inputs[cat.id] = input;
    });
    return {
      set: function (id) {
        Object.keys(inputs).forEach(function (key) { inputs[key].checked = String(id) === key; });
      },
      pickNth: function (n) {
        var cat = categories[n];
        if (cat) { inputs[cat.id].checked = true; onPick(cat.id); }
      },
    };
  }

  // ---------------------------------------------------------------- the shape editor
  /**
   * Boxes (drag to draw; drag a box to move it; drag its edges or corners to resize) and
   * polygons (click to add points; click the first point, press Enter or double-click to close)
   * on an SVG overlay whose viewBox is the image's pixel frame.
   * options: {kind, categories, onChange(regions, selected)}.
   */
  function ShapeEditor(svg, img, options) {
    this.svg = svg;
    this.img = img;
    this.kind = options.kind;
    this.colors = {};
    var self = this;
    (options.categories || []).forEach(function (c) { self.colors[c.id] = c.color; });
    this.onChange = options.onChange || function () {};
    this.width = 1;
    this.height = 1;
    this.regions = [];
    this.selected = -1;
    this.category = null; // the category new shapes get
    this.enabled = true;
    this.draft = null; // polygon being drawn: flat [x1, y1, ...]
    this.gesture = null;
    this.under = svgEl("g", { class: "under" }); // read-only layers (review candidates)
    this.layer = svgEl("g", { class: "editable" });
    this.temp = svgEl("g", { class: "temp" });
    svg.append(this.under, this.layer, this.temp);
    svg.addEventListener("pointerdown", this._down.bind(this));
    svg.addEventListener("pointermove", this._move.bind(this));
    svg.addEventListener("pointerup", this._up.bind(this));
    svg.addEventListener("pointercancel", this._cancel.bind(this));
    svg.addEventListener("dblclick", function (e) { e.preventDefault(); self.closePolygon(); });
  }

  ShapeEditor.prototype.setCategories = function (categories) {
    var self = this;
    this.colors = {};
    categories.forEach(function (c) { self.colors[c.id] = c.color; });
  };

  /** Show an image of `width` x `height` pixels; resolves when it has loaded. */
  ShapeEditor.prototype.setImage = function (url, width, height) {
    var img = this.img;
    this.width = width;
    this.height = height;
    this.svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    return new Promise(function (resolve, reject) {
      img.onload = function () { resolve(); };
      img.onerror = function () { reject(new Error("The image could not be loaded.")); };
      img.src = url;
    });
  };

  ShapeEditor.prototype.setRegions = function (regions) {
    this.regions = regions.map(function (r) {
      var copy = { category_id: r.category_id === undefined ? null : r.category_id };
      if (r.bbox) copy.bbox = r.bbox.slice();
      if (r.polygon) copy.polygon = r.polygon.slice();
      return copy;
    });
    this.selected = -1;
    this.draft = null;
    this.render();
  };

  ShapeEditor.prototype.setEnabled = function (enabled) {
    this.enabled = enabled;
    this.svg.classList.toggle("readonly", !enabled);
    if (!enabled) { this.selected = -1; this.draft = null; }
    this.render();
  };

  /** Pick the category for new shapes, and give it to the selected shape. */
  ShapeEditor.prototype.pickCategory = function (id) {
    this.category = id;
    if (this.selected >= 0) this.regions[this.selected].category_id = id;
    this.render();
  };

  ShapeEditor.prototype.select = function (index) {
    this.selected = index;
    this.render();
  };

  ShapeEditor.prototype.remove = function (index) {
    if (index < 0 || index >= this.regions.length) return;
    this.regions.splice(index, 1);
    this.selected = -1;
    this.render();
  };

  /** The pixel scale: image pixels per screen pixel. */
  ShapeEditor.prototype._scale = function () {
    var box = this.svg.getBoundingClientRect();
    return box.width ? this.width / box.width : 1;
  };

  /** Screen -> image pixels, clamped to the image. */
  ShapeEditor.prototype.toImage = function (event) {
    var box = this.svg.getBoundingClientRect();
    var x = (event.clientX - box.left) * (this.width / box.width);
    var y = (event.clientY - box.top) * (this.height / box.height);
    return [clamp(x, 0, this.width), clamp(y, 0, this.height)];
  };

  ShapeEditor.prototype.color = function (region) {
    return region.category_id != null && this.colors[region.category_id]
      ? this.colors[region.category_id] : "#98a2b3";
  };

  ShapeEditor.prototype.render = function () {
    var self = this;
    var s = this._scale();
    this.layer.replaceChildren();
    this.temp.replaceChildren();
    this.regions.forEach(function (region, i) {
      var color = self.color(region);
      var attrs = {
        class: "shape" + (i === self.selected ? " selected" : "") + (region.category_id == null ? " uncategorised" : ""),
        stroke: color,
        fill: color,
        "data-index": i,
        "data-testid": "shape",
        "vector-effect": "non-scaling-stroke",
      };
      var shape;
      if (region.bbox) {
        var b = region.bbox;
        shape = svgEl("rect", Object.assign(attrs, { x: b[0], y: b[1], width: b[2], height: b[3] }));
      } else if (region.polygon) {
        shape = svgEl("polygon", Object.assign(attrs, { points: region.polygon.join(" ") }));
      }
      if (shape) self.layer.append(shape);
    });
    var sel = this.regions[this.selected];
    if (sel && this.enabled) {
      var h = HANDLE_PX * s;
      this._handlePoints(sel).forEach(function (p) {
        self.layer.append(svgEl("rect", {
          class: "handle", x: p.x - h / 2, y: p.y - h / 2, width: h, height: h,
          "data-handle": p.handle, "vector-effect": "non-scaling-stroke",
        }));
      });
    }
    if (this.draft && this.draft.length) {
      var color = this.category != null && this.colors[this.category] ? this.colors[this.category] : "#98a2b3";
      this.temp.append(svgEl("polyline", {
        class: "draft", points: this.draft.join(" "), stroke: color, "vector-effect": "non-scaling-stroke",
      }));
      var r = CLOSE_PX * s / 2;
      this.temp.append(svgEl("circle", { class: "first-point", cx: this.draft[0], cy: this.draft[1], r: r }));
    }
    this.onChange(this.regions, this.selected);
  };

  ShapeEditor.prototype._handlePoints = function (region) {
    if (region.bbox) {
      var b = region.bbox, x0 = b[0], y0 = b[1], x1 = b[0] + b[2], y1 = b[1] + b[3];
      var xm = (x0 + x1) / 2, ym = (y0 + y1) / 2;
      return [
        { x: x0, y: y0, handle: "nw" }, { x: xm, y: y0, handle: "n" }, { x: x1, y: y0, handle: "ne" },
        { x: x1, y: ym, handle: "e" }, { x: x1, y: y1, handle: "se" }, { x: xm, y: y1, handle: "s" },
        { x: x0, y: y1, handle: "sw" }, { x: x0, y: ym, handle: "w" },
      ];
    }
    var points = [];
    for (var i = 0; i < region.polygon.length; i += 2) {
      points.push({ x: region.polygon[i], y: region.polygon[i + 1], handle: "v" + i / 2 });
    }
    return points;
  };

  ShapeEditor.prototype._down = function (event) {
    if (!this.enabled || event.button !== 0) return;
    event.preventDefault();
    var p = this.toImage(event);
    var target = event.target;
    var handle = target.getAttribute && target.getAttribute("data-handle");
    var index = target.getAttribute && target.getAttribute("data-index");
    this.svg.setPointerCapture(event.pointerId);
    if (handle && this.selected >= 0 && !this.draft) {
      var region = this.regions[this.selected];
      this.gesture = { type: "resize", handle: handle, start: p,
        original: (region.bbox || region.polygon).slice() };
    } else if (index !== null && index !== undefined && !this.draft) {
      this.selected = Number(index);
      var reg = this.regions[this.selected];
      this.gesture = { type: "move", start: p, original: (reg.bbox || reg.polygon).slice(), moved: false };
      this.render();
    } else if (this.kind === "polygon") {
      this.gesture = { type: "point", start: p };
    } else if (this.kind === "bbox") {
      this.selected = -1;
      this.gesture = { type: "draw", start: p, clientX: event.clientX, clientY: event.clientY };
      this.render();
    }
  };

  ShapeEditor.prototype._move = function (event) {
    var g = this.gesture;
    if (!g) return;
    var p = this.toImage(event);
    var W = this.width, H = this.height;
    if (g.type === "draw") {
      var x = Math.min(g.start[0], p[0]), y = Math.min(g.start[1], p[1]);
      var w = Math.abs(p[0] - g.start[0]), h = Math.abs(p[1] - g.start[1]);
      this.temp.replaceChildren(svgEl("rect", {
        class: "rubber", x: x, y: y, width: w, height: h, "vector-effect": "non-scaling-stroke",
        stroke: this.category != null && this.colors[this.category] ? this.colors[this.category] : "#98a2b3",
      }));
      return;
    }
    var region = this.regions[this.selected];
    if (!region) return;
    var dx = p[0] - g.start[0], dy = p[1] - g.start[1];
    if (g.type === "move") {
      g.moved = g.moved || Math.abs(dx) > 0 || Math.abs(dy) > 0;
      if (region.bbox) {
        var o = g.original;
        region.bbox = [clamp(o[0] + dx, 0, W - o[2]), clamp(o[1] + dy, 0, H - o[3]), o[2], o[3]];
      } else {
        var xs = g.original.filter(function (_, i) { return i % 2 === 0; });
        var ys = g.original.filter(function (_, i) { return i % 2 === 1; });
        var ddx = clamp(dx, -Math.min.apply(null, xs), W - Math.max.apply(null, xs));
        var ddy = clamp(dy, -Math.min.apply(null, ys), H - Math.max.apply(null, ys));
        region.polygon = g.original.map(function (v, i) { return i % 2 === 0 ? v + ddx : v + ddy; });
      }
      this.render();
    } else if (g.type === "resize") {
      if (region.bbox) {
        var b = g.original, x0 = b[0], y0 = b[1], x1 = b[0] + b[2], y1 = b[1] + b[3];
        if (g.handle.indexOf("w") >= 0) x0 = p[0];
        if (g.handle.indexOf("e") >= 0) x1 = p[0];
        if (g.handle.indexOf("n") >= 0) y0 = p[1];
        if (g.handle.indexOf("s") >= 0) y1 = p[1];
        region.bbox = [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
      } else {
        var v = Number(g.handle.slice(1)) * 2;
        region.polygon = g.original.slice();
        region.polygon[v] = p[0];
        region.polygon[v + 1] = p[1];
      }
      this.render();
    }
  };

  ShapeEditor.prototype._up = function (event) {
    var g = this.gesture;
    this.gesture = null;
    if (!g) return;
    var p = this.toImage(event);
    if (g.type === "draw") {
      this.temp.replaceChildren();
      var dragged = Math.abs(event.clientX - g.clientX) >= MIN_BOX_PX && Math.abs(event.clientY - g.clientY) >= MIN_BOX_PX;
      if (dragged) {
        var x = round1(Math.min(g.start[0], p[0])), y = round1(Math.min(g.start[1], p[1]));
        var x2 = round1(Math.max(g.start[0], p[0])), y2 = round1(Math.max(g.start[1], p[1]));
        this.regions.push({ category_id: this.category, bbox: [x, y, round1(x2 - x), round1(y2 - y)] });
        this.selected = this.regions.length - 1;
      }
      this.render();
    } else if (g.type === "point") {
      this._addPoint(p);
    } else {
      var region = this.regions[this.selected];
      if (region && region.bbox) region.bbox = region.bbox.map(round1);
      if (region && region.polygon) region.polygon = region.polygon.map(round1);
      if (region && region.bbox && (region.bbox[2] <= 0 || region.bbox[3] <= 0)) {
        region.bbox = g.original; // a box cannot be squashed to nothing
      }
      this.render();
    }
  };

  ShapeEditor.prototype._cancel = function () {
    this.gesture = null;
    this.temp.replaceChildren();
    this.render();
  };

  ShapeEditor.prototype._addPoint = function (p) {
    if (!this.draft) { this.draft = []; this.selected = -1; }
    var n = this.draft.length;
    if (n >= 6) {
      var s = this._scale();
      var dist = Math.hypot(p[0] - this.draft[0], p[1] - this.draft[1]) / s;
      if (dist <= CLOSE_PX) { this.closePolygon(); return; }
    }
    if (n >= 2 && this.draft[n - 2] === round1(p[0]) && this.draft[n - 1] === round1(p[1])) return;
    this.draft.push(round1(p[0]), round1(p[1]));
    this.render();
  };

  /** Finish the polygon being drawn (3 points or more); fewer points are dropped. */
  ShapeEditor.prototype.closePolygon = function () {
    if (!this.draft) return;
    if (this.draft.length >= 6) {
      this.regions.push({ category_id: this.category, polygon: this.draft });
      this.selected = this.regions.length - 1;
    }
    this.draft = null;
    this.render();
  };

  ShapeEditor.prototype.cancelDraft = function () {
    this.draft = null;
    this.render();
  };

  /** The first problem that keeps the shapes from being an answer, as a sentence, or "". */
  ShapeEditor.prototype.problem = function () {
    if (this.draft) return "Finish the shape you are drawing (click its first point) or press Escape.";
    for (var i = 0; i < this.regions.length; i++) {
      if (this.regions[i].category_id == null) {
        return "Shape " + (i + 1) + " has no category: select it and pick a category.";
      }
    }
    return "";
  };

  ShapeEditor.prototype.payload = function () {
    return {
      regions: this.regions.map(function (r) {
        var out = { category_id: r.category_id };
        if (r.bbox) out.bbox = r.bbox;
        if (r.polygon) out.polygon = r.polygon;
        return out;
      }),
    };
  };

  /** A list of the shapes with select and delete buttons, kept in step with the editor. */
  function regionList(list, editor, categories) {
    var names = {};
    categories.forEach(function (c) { names[c.id] = c.name; });
    return function (regions, selected) {
      list.replaceChildren();
      regions.forEach(function (region, i) {
        var item = el("li", { class: i === selected ? "selected" : "", "data-testid": "region" });
        var pick = el("button", { type: "button", class: "link region-name" },
          (region.category_id == null ? "No category" : names[region.category_id] || "?") + " · " + describe(region));
        pick.addEventListener("click", function () { editor.select(i); });
        var del = el("button", { type: "button", class: "delete", "aria-label": "Delete shape " + (i + 1), title: "Delete (Del)" }, "Delete");
        del.addEventListener("click", function () { editor.remove(i); });
        item.append(pick, del);
        list.append(item);
      });
    };
  }

  /** When another shape is selected, show its category in the picker (and use it for the next
   * shape); wrap an editor's onChange with this. */
  function followSelection(editor, getPicker, onChange) {
    var last = -1;
    return function (regions, selected) {
      if (selected !== last && selected >= 0 && regions[selected].category_id != null) {
        editor.category = regions[selected].category_id;
        var picker = getPicker();
        if (picker) picker.set(editor.category);
      }
      last = selected;
      onChange(regions, selected);
    };
  }

  /** Keyboard: Delete removes the selected shape, Escape drops a draft or the selection,
   * Enter closes a polygon, 1-9 pick a category. Ignored while typing in a field. */
  function bindKeys(editor, picker) {
    document.addEventListener("keydown", function (event) {
      var tag = (event.target && event.target.tagName) || "";
      if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) && event.target.type !== "radio") return;
      if (!editor.enabled) return;
      if ((event.key === "Delete" || event.key === "Backspace") && editor.selected >= 0) {
        event.preventDefault();
        editor.remove(editor.selected);
      } else if (event.key === "Escape") {
        if (editor.draft) editor.cancelDraft(); else editor.select(-1);
      } else if (event.key === "Enter" && editor.draft) {
        event.preventDefault();
        editor.closePolygon();
      } else if (/^[1-9]$/.test(event.key) && picker && tag !== "INPUT") {
        picker.pickNth(Number(event.key) - 1);
      }
    });
  }

  window.Quorum = {
    api: api, el: el, svgEl: svgEl, ShapeEditor: ShapeEditor, categoryPicker: categoryPicker,
    regionList: regionList, bindKeys: bindKeys, followSelection: followSelection, describe: describe,
  };

  // ---------------------------------------------------------------- the annotate page
  var REASONS = {
    project_not_active: "This project is not open for work right now.",
    deadline_passed: "This project's deadline has passed.",
    blocked: "You are blocked from this project.",
    not_qualified: "You do not hold the qualifications this project requires.",
    budget_spent: "This project's budget is spent.",
    test_not_started: "This project needs a qualification test first.",
    nothing_left: "There is nothing left for you to label in this project. Thank you!",
    try_again: "Other workers took the last tasks just now. Ask again in a moment.",
  };

  function AnnotatePage(root) {
    this.root = root;
    this.claimUrl = root.dataset.claimUrl;
    this.assignmentsUrl = root.dataset.assignmentsUrl;
    this.lease = null;
    this.clockOffset = 0; // server time minus local time, from the Date header
    this.timer = null;
    this.busy = false;
    this.q = function (testid) { return root.querySelector('[data-testid="' + testid + '"]'); };
    var self = this;
    this.editor = new ShapeEditor(this.q("overlay"), this.q("image"), { kind: root.dataset.kind });
    this.editor.onChange = followSelection(this.editor, function () { return self.picker; }, function (regions, selected) {
      if (self.listRenderer) self.listRenderer(regions, selected);
      self.q("no-regions").hidden = regions.length > 0;
    });
    root.addEventListener("click", function (event) {
      var action = event.target.closest && event.target.closest("[data-action]");
      if (!action || action.disabled) return;
      var name = action.getAttribute("data-action");
      if (name === "claim") self.claim();
      else if (name === "submit") self.submit();
      else if (name === "return") self.giveBack();
      else if (name === "extend") self.extend();
    });
    bindKeys(this.editor, { pickNth: function (n) { if (self.picker) self.picker.pickNth(n); } });
    window.addEventListener("resize", function () { self.editor.render(); });
  }

  AnnotatePage.prototype.status = function (text) { this.q("status").textContent = text || ""; };

  AnnotatePage.prototype.error = function (text) {
    var box = this.q("error");
    box.querySelectorAll("button").forEach(function (b) { b.remove(); });
    box.hidden = !text;
    box.querySelector("p").textContent = text || "";
  };

  AnnotatePage.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.root.querySelectorAll("button[data-action]").forEach(function (b) { b.disabled = busy; });
    this.root.classList.toggle("busy", busy);
  };

  AnnotatePage.prototype.claim = function () {
    var self = this;
    this.error("");
    this.setBusy(true);
    this.status(this.lease ? "Loading the next task…" : "Loading your task…");
    return api("POST", this.claimUrl).then(function (r) {
      self.setBusy(false);
      if (r.ok) return self.show(r);
      self.lease = null;
      self.stopTimer();
      self.q("task").hidden = true;
      self.q("lease").hidden = true;
      self.status("");
      if (r.code === "nothing_for_you") {
        var reason = r.details.reason || "";
        var nothing = self.q("nothing");
        nothing.hidden = false;
        nothing.dataset.reason = reason;
        self.q("nothing-reason").textContent = REASONS[reason] || "There is no task for you right now.";
        self.q("nothing-message").textContent = r.message;
      } else {
        self.error(r.message);
      }
    });
  };

  AnnotatePage.prototype.show = function (r) {
    var lease = r.data, self = this;
    if (!isNaN(r.date)) this.clockOffset = r.date - Date.now();
    this.lease = lease;
    this.q("nothing").hidden = true;
    this.editor.kind = lease.kind;
    this.editor.setCategories(lease.categories);
    var ids = lease.categories.map(function (c) { return c.id; });
    // The category is kept from task to task: workers often label one class at a time.
    if (ids.indexOf(this.editor.category) < 0) this.editor.category = null;
    this.picker = categoryPicker(this.q("categories"), lease.categories, "category", function (id) {
      self.editor.pickCategory(id);
    });
    this.picker.set(this.editor.category);
    this.editor.setRegions([]);
    var drawing = lease.kind === "bbox" || lease.kind === "polygon";
    this.q("regions-box").hidden = !drawing;
    this.listRenderer = drawing ? regionList(this.q("regions"), this.editor, lease.categories) : null;
    this.editor.setEnabled(drawing);
    this.q("hint").textContent = {
      bbox: "Drag on the image to draw a box; drag a box to move it, its edges to resize it. Pick its category on the right. Delete removes the selected box.",
      polygon: "Click to place points; click the first point (or press Enter) to close the shape. Pick its category on the right.",
      classification: "Pick the one category that fits the image.",
    }[lease.kind] || "This kind of annotation (" + lease.kind + ") cannot be drawn in the browser yet; use the API, or skip this task.";
    var instructions = this.q("instructions");
    instructions.hidden = !lease.instructions;
    instructions.querySelector(".instructions-text").textContent = lease.instructions || "";
    this.q("submit").disabled = !(drawing || lease.kind === "classification");
    this.status("Loading the image…");
    return this.editor.setImage(lease.image_url, lease.width, lease.height).then(
      function () {
        self.q("task").hidden = false;
        self.q("lease").hidden = false;
        self.q("task").dataset.assignment = String(lease.id);
        self.editor.render();
        self.updateLease();
        self.startTimer();
        self.status("");
        self.listRenderer && self.listRenderer(self.editor.regions, -1);
        self.q("no-regions").hidden = self.editor.regions.length > 0;
      },
      function (e) {
        self.q("task").hidden = false;
        self.error(e.message + " You can skip this task.");
        self.q("lease").hidden = false;
        self.startTimer();
      }
    );
  };

  AnnotatePage.prototype.updateLease = function () {
    var lease = this.lease;
    if (!lease) return;
    var extend = this.q("extend");
    extend.hidden = !(lease.extensions_left > 0);
    extend.textContent = "More time (" + lease.extensions_left + " left)";
  };

  AnnotatePage.prototype.startTimer = function () {
    var self = this;
    this.stopTimer();
    var tick = function () {
      if (!self.lease) return;
      var left = Date.parse(self.lease.lease_expires_at) - (Date.now() + self.clockOffset);
      var out = self.q("time-left");
      if (left <= 0) {
        out.textContent = "Time is up";
        self.stopTimer();
        self.expired();
        return;
      }
      var seconds = Math.floor(left / 1000);
      var m = Math.floor(seconds / 60), s = seconds % 60;
      out.textContent = "Time left " + m + ":" + (s < 10 ? "0" : "") + s;
      out.classList.toggle("urgent", seconds < 60);
    };
    tick();
    this.timer = setInterval(tick, 1000);
  };

  AnnotatePage.prototype.stopTimer = function () {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  };

  AnnotatePage.prototype.expired = function () {
    this.editor.setEnabled(false);
    this.q("submit").disabled = true;
    this.q("extend").hidden = true;
    this.q("return").hidden = true;
    this.error("Your time for this task ran out, so it went back to the pool.");
    var again = el("button", { type: "button", class: "primary", "data-action": "claim" }, "Get a new task");
    this.q("error").append(again);
  };

  AnnotatePage.prototype.answer = function () {
    var kind = this.lease.kind;
    if (kind === "classification") {
      if (this.editor.category == null) return { problem: "Pick a category before submitting." };
      return { payload: { category_id: this.editor.category } };
    }
    var problem = this.editor.problem();
    if (problem) return { problem: problem };
    return { payload: this.editor.payload() };
  };

  AnnotatePage.prototype.submit = function () {
    if (!this.lease || this.busy) return;
    var self = this;
    var answer = this.answer();
    if (answer.problem) { this.error(answer.problem); return; }
    this.error("");
    this.setBusy(true);
    this.status("Submitting…");
    api("POST", this.assignmentsUrl + this.lease.id + "/submit/", { payload: answer.payload }).then(function (r) {
      self.setBusy(false);
      if (!r.ok) {
        self.status("");
        self.error(r.message);
        if (r.status === 409 || r.status === 404) {
          // The lease has ended (or the answer conflicts): offer a fresh task.
          self.q("error").append(el("button", { type: "button", class: "primary", "data-action": "claim" }, "Get a new task"));
        }
        return;
      }
      self.stopTimer();
      self.status("Submitted. Loading the next task…");
      return self.claim().then(function () {
        self.status(self.lease ? "Submitted. Here is your next task." : "Your answer was submitted.");
      });
    });
  };

  AnnotatePage.prototype.giveBack = function () {
    if (!this.lease || this.busy) return;
    var self = this;
    this.setBusy(true);
    api("POST", this.assignmentsUrl + this.lease.id + "/return/").then(function (r) {
      self.setBusy(false);
      if (!r.ok) { self.error(r.message); return; }
      self.stopTimer();
      self.claim();
    });
  };

  AnnotatePage.prototype.extend = function () {
    if (!this.lease || this.busy) return;
    var self = this;
    this.setBusy(true);
    api("POST", this.assignmentsUrl + this.lease.id + "/extend/").then(function (r) {
      self.setBusy(false);
      if (!r.ok) { self.error(r.message); return; }
      if (!isNaN(r.date)) self.clockOffset = r.date - Date.now();
      self.lease.lease_expires_at = r.data.lease_expires_at;
      self.lease.extensions_left = r.data.extensions_left;
      self.updateLease();
      self.startTimer();
      self.status("You have more time for this task.");
    });
  };

  var root = document.getElementById("annotate");
  if (root) {
    var page = new AnnotatePage(root);
    window.quorumAnnotate = page;
    page.claim();
  }
})();
