/* Quorum: the reviewer's page. Every candidate label of an escalated item (the last consensus
 * result and each worker's answer) is drawn over the image in its own colour, with a legend that
 * toggles it; the reviewer accepts one, edits one (drag its edges, move or redraw boxes) and
 * saves the edit, or rejects the item with a reason; then the next item of the queue loads.
 * Uses window.Quorum from annotate.js (the API helper and the shape editor).
 */
(function () {
  "use strict";

  var Q = window.Quorum;
  // Distinct colours for candidates (Sasha Trubetskoy's list); the consensus gets its own.
  var CONSENSUS_COLOR = "#111111";
  var PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#9a6324", "#469990", "#800000", "#808000", "#000075"];

  function ReviewPage(root) {
    var self = this;
    this.root = root;
    this.queueUrl = root.dataset.queueUrl;
    this.decideTemplate = root.dataset.decideUrl; // .../items/0/review/
    this.kind = root.dataset.kind;
    this.categories = JSON.parse(document.getElementById("review-categories").textContent);
    this.names = {};
    this.categories.forEach(function (c) { self.names[c.id] = c.name; });
    this.entry = null;
    this.skipped = {};
    this.editing = null; // the candidate being edited
    this.busy = false;
    this.q = function (testid) { return root.querySelector('[data-testid="' + testid + '"]'); };
    this.editor = new Q.ShapeEditor(this.q("overlay"), this.q("image"), {
      kind: this.kind,
      categories: this.categories,
    });
    this.editor.onChange = Q.followSelection(this.editor, function () { return self.picker; }, function (regions, selected) {
      if (self.listRenderer) self.listRenderer(regions, selected);
    });
    this.editor.setEnabled(false);
    this.picker = Q.categoryPicker(this.q("categories"), this.categories, "edit-category", function (id) {
      self.editor.pickCategory(id);
      self.classification = id;
    });
    this.listRenderer = null;
    Q.bindKeys(this.editor, this.picker);
    root.addEventListener("click", function (event) {
      var action = event.target.closest && event.target.closest("[data-action]");
      if (!action || action.disabled) return;
      var name = action.getAttribute("data-action");
      var candidate = action.getAttribute("data-candidate");
      if (name === "reload") self.load();
      else if (name === "accept") self.decide({ action: "accept", candidate: candidate }, "accepted");
      else if (name === "edit") self.startEdit(candidate);
      else if (name === "save-edit") self.saveEdit();
      else if (name === "cancel-edit") self.stopEdit();
      else if (name === "skip") { self.skipped[self.entry.item] = true; self.load(); }
    });
    this.q("reject-form").addEventListener("submit", function (event) {
      event.preventDefault();
      self.reject();
    });
    window.addEventListener("resize", function () { self.editor.render(); });
  }

  ReviewPage.prototype.status = function (text) { this.q("status").textContent = text || ""; };

  ReviewPage.prototype.error = function (text) {
    var box = this.q("error");
    box.hidden = !text;
    box.querySelector("p").textContent = text || "";
  };

  ReviewPage.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.root.querySelectorAll("button").forEach(function (b) { b.disabled = busy; });
    this.root.classList.toggle("busy", busy);
  };

  ReviewPage.prototype.load = function (done) {
    var self = this;
    this.setBusy(true);
    return Q.api("GET", this.queueUrl).then(function (r) {
      self.setBusy(false);
      if (!r.ok) { self.error(r.message); return; }
      var queue = r.data || [];
      var waiting = queue.filter(function (e) { return !self.skipped[e.item]; });
      if (!waiting.length && queue.length) { self.skipped = {}; waiting = queue; }
      self.q("queue-info").textContent = queue.length
        ? queue.length + (queue.length === 1 ? " item" : " items") + " waiting" + (queue.length >= 50 ? " (showing the oldest 50)" : "")
        : "";
      if (!waiting.length) {
        self.entry = null;
        self.q("entry").hidden = true;
        self.q("empty").hidden = false;
        self.status(done || "");
        return;
      }
      self.q("empty").hidden = true;
      return self.show(waiting[0], queue.length > 1).then(function () { self.status(done || ""); });
    });
  };

  ReviewPage.prototype.candidateLabel = function (c) {
    if (c.id === "consensus") return "Consensus";
    var who = c.worker != null ? "Worker " + c.worker : c.source;
    return who + " · answer " + c.id;
  };

  ReviewPage.prototype.show = function (entry, more) {
    var self = this;
    this.entry = entry;
    this.stopEdit(true);
    this.error("");
    entry.candidates.forEach(function (c, i) {
      c.color = c.id === "consensus" ? CONSENSUS_COLOR : PALETTE[(i - (entry.candidates[0].id === "consensus" ? 1 : 0)) % PALETTE.length];
      c.visible = true;
    });
    var meta = this.q("item-meta");
    meta.textContent = "Item " + entry.item + " · " + entry.width + "×" + entry.height +
      (entry.agreement != null ? " · agreement " + Number(entry.agreement).toFixed(2) : "");
    if (more) {
      meta.append(" ");
      meta.append(Q.el("button", { type: "button", class: "link", "data-action": "skip" }, "Skip for now"));
    }
    this.q("reject-form").reset();
    this.renderLegend();
    this.q("entry").hidden = false;
    this.q("entry").dataset.item = String(entry.item);
    return this.editor.setImage(entry.image_url, entry.width, entry.height).then(
      function () { self.drawCandidates(); self.editor.render(); },
      function (e) { self.drawCandidates(); self.error(e.message); }
    );
  };

  ReviewPage.prototype.regionsOf = function (c) {
    return (c.payload && Array.isArray(c.payload.regions)) ? c.payload.regions : [];
  };

  ReviewPage.prototype.renderLegend = function () {
    var self = this;
    var legend = this.q("legend");
    legend.replaceChildren();
    this.entry.candidates.forEach(function (c) {
      var li = Q.el("li", { "data-testid": "candidate-" + c.id, "data-candidate": c.id });
      var toggleId = "show-" + c.id;
      var toggle = Q.el("input", { type: "checkbox", id: toggleId });
      toggle.checked = c.visible;
      toggle.addEventListener("change", function () { c.visible = toggle.checked; self.drawCandidates(); });
      var label = Q.el("label", { for: toggleId });
      var swatch = Q.el("span", { class: "swatch" + (c.id === "consensus" ? " dashed" : ""), "aria-hidden": "true" });
      swatch.style.borderColor = c.color;
      label.append(swatch, document.createTextNode(self.candidateLabel(c)));
      var summary = Q.el("span", { class: "muted summary" }, self.summary(c));
      var accept = Q.el("button", { type: "button", class: "primary small", "data-action": "accept",
        "data-candidate": c.id, "aria-label": "Accept " + self.candidateLabel(c) }, "Accept");
      var edit = Q.el("button", { type: "button", class: "small", "data-action": "edit",
        "data-candidate": c.id, "aria-label": "Edit " + self.candidateLabel(c) }, "Edit");
      li.append(toggle, label, summary, Q.el("span", { class: "buttons" }));
      li.lastChild.append(accept, edit);
      legend.append(li);
    });
  };

  ReviewPage.prototype.summary = function (c) {
    var self = this;
    var p = c.payload || {};
    if (p.category_id !== undefined && !p.regions) {
      return self.names[p.category_id] || "category " + p.category_id;
    }
    var regions = this.regionsOf(c);
    if (!regions.length) return "no objects";
    var counts = {};
    regions.forEach(function (r) {
      var n = self.names[r.category_id] || "?";
      counts[n] = (counts[n] || 0) + 1;
    });
    return Object.keys(counts).map(function (n) { return counts[n] + " " + n; }).join(", ");
  };

  /** Every visible candidate's shapes in the layer under the editor. */
  ReviewPage.prototype.drawCandidates = function () {
    var self = this;
    var under = this.editor.under;
    under.replaceChildren();
    if (!this.entry) return;
    this.entry.candidates.forEach(function (c) {
      var group = Q.svgEl("g", { class: "candidate" + (c.id === "consensus" ? " consensus" : ""),
        "data-candidate": c.id, stroke: c.color });
      if (!c.visible) group.setAttribute("display", "none");
      if (self.editing) group.setAttribute("opacity", "0.35");
      self.regionsOf(c).forEach(function (r) {
        var attrs = { "data-candidate": c.id, "vector-effect": "non-scaling-stroke" };
        var shape = null;
        if (r.bbox) {
          shape = Q.svgEl("rect", Object.assign(attrs, { x: r.bbox[0], y: r.bbox[1], width: r.bbox[2], height: r.bbox[3] }));
        } else if (r.polygon) {
          shape = Q.svgEl("polygon", Object.assign(attrs, { points: r.polygon.join(" ") }));
        } else if (r.keypoints) {
          shape = Q.svgEl("g", attrs);
          for (var i = 0; i + 2 < r.keypoints.length; i += 3) {
            if (r.keypoints[i + 2] > 0) {
              shape.append(Q.svgEl("circle", { cx: r.keypoints[i], cy: r.keypoints[i + 1], r: 3, fill: c.color }));
            }
          }
        }
        if (shape) {
          var title = Q.svgEl("title", {});
          title.textContent = self.candidateLabel(c) + ": " + (self.names[r.category_id] || "?");
          shape.append(title);
          group.append(shape);
        }
      });
      under.append(group);
    });
  };

  ReviewPage.prototype.candidate = function (id) {
    return this.entry.candidates.filter(function (c) { return c.id === id; })[0];
  };

  ReviewPage.prototype.startEdit = function (id) {
    var c = this.candidate(id);
    if (!c) return;
    this.editing = c;
    this.error("");
    var editor = this.q("editor");
    editor.hidden = false;
    editor.querySelector("h2").textContent = "Editing " + this.candidateLabel(c);
    var drawing = this.kind === "bbox" || this.kind === "polygon";
    this.q("regions").hidden = !drawing;
    if (this.kind === "classification") {
      this.classification = c.payload ? c.payload.category_id : null;
      this.picker.set(this.classification);
      this.q("hint").textContent = "Pick the category that fits, then save the edit.";
    } else if (drawing) {
      this.listRenderer = Q.regionList(this.q("regions"), this.editor, this.categories);
      this.editor.category = null;
      this.picker.set(null);
      this.editor.setRegions(this.regionsOf(c));
      this.editor.setEnabled(true);
      this.q("hint").textContent = this.kind === "bbox"
        ? "Drag a box's edges or corners to resize it, drag the box to move it, drag on the image to draw a new one. Select a box and pick a category to change its class; Delete removes it."
        : "Drag a point to move it, click on the image to draw a new shape. Select a shape and pick a category to change its class; Delete removes it.";
    } else {
      this.error("Editing " + this.kind + " labels is not supported in the browser yet; accept or reject instead.");
      this.stopEdit(true);
      return;
    }
    this.drawCandidates();
  };

  ReviewPage.prototype.stopEdit = function (quiet) {
    this.editing = null;
    this.listRenderer = null;
    this.q("editor").hidden = true;
    this.editor.setRegions([]);
    this.editor.setEnabled(false);
    this.q("hint").textContent = "Tick a candidate to show or hide it. Accept takes it as it is; Edit starts from it.";
    if (!quiet) this.drawCandidates();
  };

  ReviewPage.prototype.saveEdit = function () {
    if (!this.editing) return;
    var payload;
    if (this.kind === "classification") {
      if (this.classification == null) { this.error("Pick a category before saving the edit."); return; }
      payload = { category_id: this.classification };
    } else {
      var problem = this.editor.problem();
      if (problem) { this.error(problem); return; }
      payload = this.editor.payload();
    }
    this.decide({ action: "edit", payload: payload }, "edited");
  };

  ReviewPage.prototype.reject = function () {
    var reason = this.q("reject-form").elements.reason.value.trim();
    if (!reason) {
      this.error("Give a reason for rejecting the item.");
      return;
    }
    this.decide({ action: "reject", reason: reason }, "rejected");
  };

  ReviewPage.prototype.decide = function (body, verb) {
    if (!this.entry || this.busy) return;
    var self = this;
    var item = this.entry.item;
    var url = this.decideTemplate.replace("/0/", "/" + item + "/");
    this.error("");
    this.setBusy(true);
    this.status("Saving your decision…");
    Q.api("POST", url, body).then(function (r) {
      self.setBusy(false);
      if (!r.ok) {
        self.status("");
        if (r.status === 409 || r.status === 404) {
          // Someone else decided this item meanwhile: move on, and say so.
          return self.load().then(function () { self.error(r.message); });
        }
        self.error(r.message);
        return;
      }
      var what = verb === "rejected" ? "rejected" : verb + " and promoted";
      self.load("Item " + item + " " + what + ".");
    });
  };

  var root = document.getElementById("review");
  if (root) {
    var page = new ReviewPage(root);
    window.quorumReview = page;
    page.load();
  }
})();
