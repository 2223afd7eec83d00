// The histogram page: the form asks the GET API for the histogram as JSON and plots it with
// plotly.js; the page's address keeps the whole request (shareable). A file, never inline
// script: pages allow script from the portal's own files only (its settings are the form's
// data attributes). Every text from the server or a record is set as text (textContent,
// input values), never as markup.
(function () {
  "use strict";
  var form = document.getElementById("h-form");
  var config = {
    recid: form.getAttribute("data-recid"),
    api: form.getAttribute("data-api"),
    page: form.getAttribute("data-page"),
    plot: form.getAttribute("data-plot") === "1"
  };
  var plot = document.getElementById("h-plot");
  var statusLine = document.getElementById("h-status");
  var requestError = document.getElementById("h-error");
  var stats = document.getElementById("h-stats");
  var downloads = document.getElementById("h-downloads");
  var variable = document.getElementById("h-variable");
  var expression = document.getElementById("h-expression");
  var logScale = document.getElementById("h-log");
  var FIELDS = ["expression", "selection", "file", "tree", "bins", "lo", "hi"];
  var last = null; // the last answer plotted
  var pending = null; // the AbortController of the request under way

  function fieldValues() {
    var values = [];
    FIELDS.forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (input && input.value.trim() !== "") values.push([name, input.value.trim()]);
    });
    return values;
  }

  function encode(pairs) {
    return pairs.map(function (pair) {
      return encodeURIComponent(pair[0]) + "=" + encodeURIComponent(pair[1]);
    }).join("&");
  }

  function apiUrl(format) {
    var pairs = [["recid", config.recid]].concat(fieldValues());
    pairs.push(["format", format]);
    if (format === "png" && logScale.checked) pairs.push(["log", "1"]);
    return config.api + "?" + encode(pairs);
  }

  function pageQuery() {
    var pairs = fieldValues();
    if (logScale.checked) pairs.push(["log", "1"]);
    return encode(pairs);
  }

  function clearErrors() {
    requestError.hidden = true;
    requestError.textContent = "";
    form.querySelectorAll(".h-error").forEach(function (box) {
      box.hidden = true;
      box.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
    });
  }

  function showError(body) {
    var name = body.field === "range" ? "hi" : body.field;
    var box = name ? document.getElementById("h-" + name + "-error") : null;
    var input = name ? form.elements.namedItem(name) : null;
    if (!box) box = requestError;
    var message = document.createElement("p");
    message.textContent = body.error || body.message || "the request failed";
    box.appendChild(message);
    if (input && typeof body.position === "number" && input.value !== undefined) {
      // Where it goes wrong: the text with a caret under that character.
      var text = input.value;
      var position = Math.max(0, Math.min(body.position, text.length));
      var where = document.createElement("pre");
      where.className = "h-error__where";
      where.textContent = text + "\n" + " ".repeat(position) + "^";
      box.appendChild(where);
      input.focus();
      input.setSelectionRange(position, Math.min(position + 1, text.length));
    }
    if (body.names && body.names.length) {
      var names = document.createElement("p");
      names.className = "h-error__names";
      names.textContent = "Names you can use: " + body.names.join(", ");
      box.appendChild(names);
    }
    if (input) input.setAttribute("aria-invalid", "true");
    box.hidden = false;
  }

  function showStats(answer) {
    var rows = [
      ["Entries", answer.entries.toLocaleString("en")],
      ["Events read", answer.events_read.toLocaleString("en")],
      ["Skipped (not computable)", answer.skipped.toLocaleString("en")],
      ["Underflow", answer.underflow.toLocaleString("en")],
      ["Overflow", answer.overflow.toLocaleString("en")],
      ["Seconds", answer.seconds.toFixed(2) + (answer.cached ? " (cached)" : "")]
    ];
    stats.textContent = "";
    rows.forEach(function (row) {
      var wrap = document.createElement("div");
      var term = document.createElement("dt");
      var value = document.createElement("dd");
      term.textContent = row[0];
      value.textContent = row[1];
      wrap.appendChild(term);
      wrap.appendChild(value);
      stats.appendChild(wrap);
    });
    stats.hidden = false;
  }

  function updateLinks() {
    document.getElementById("h-png").href = apiUrl("png");
    document.getElementById("h-csv").href = apiUrl("csv");
    document.getElementById("h-json").href = apiUrl("json");
    downloads.hidden = false;
  }

  function layout(answer) {
    var label = answer.request.expression;
    return {
      margin: { t: 30, r: 20, b: 60, l: 70 },
      bargap: 0,
      xaxis: { title: { text: label }, range: [answer.edges[0], answer.edges[answer.edges.length - 1]] },
      yaxis: { title: { text: "Events" }, type: logScale.checked ? "log" : "linear" },
      showlegend: false
    };
  }

  function draw(answer) {
    var centers = [], widths = [], errors = [];
    for (var i = 0; i < answer.counts.length; i++) {
      centers.push((answer.edges[i] + answer.edges[i + 1]) / 2);
      widths.push(answer.edges[i + 1] - answer.edges[i]);
      errors.push(Math.sqrt(answer.sumw2[i]));
    }
    var trace = {
      type: "bar",
      x: centers,
      y: answer.counts,
      width: widths,
      marker: { color: "#0b5cad", line: { color: "#0d2540", width: 0.5 } },
      error_y: { type: "data", array: errors, visible: true, thickness: 1, width: 0 },
      hovertemplate: "%{x}: %{y} events<extra></extra>"
    };
    // The first plot replaces the <noscript> image; later ones update plotly's own nodes.
    if (!plot.classList.contains("js-plotly-plot")) plot.textContent = "";
    window.Plotly.react(plot, [trace], layout(answer), { responsive: true, displaylogo: false });
    plot.setAttribute("data-bins", String(answer.counts.length));
    plot.setAttribute("data-scale", logScale.checked ? "log" : "linear");
  }

  function run() {
    clearErrors();
    if (expression.value.trim() === "") {
      showError({ field: "expression", error: "write an expression, or choose a variable" });
      return;
    }
    if (pending) pending.abort();
    pending = new AbortController();
    statusLine.textContent = "Filling the histogram…";
    plot.setAttribute("aria-busy", "true");
    fetch(apiUrl("json"), { signal: pending.signal, headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return [response.status, body]; });
      })
      .then(function (result) {
        var status = result[0], body = result[1];
        plot.removeAttribute("aria-busy");
        if (status !== 200) {
          statusLine.textContent = "";
          showError(body);
          return;
        }
        last = body;
        draw(body);
        showStats(body);
        updateLinks();
        statusLine.textContent = body.entries.toLocaleString("en") + " entries from " +
          body.events_read.toLocaleString("en") + " events.";
      })
      .catch(function (error) {
        if (error.name === "AbortError") return;
        plot.removeAttribute("aria-busy");
        statusLine.textContent = "";
        showError({ error: "the server could not be reached: " + error.message });
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    history.pushState(null, "", config.page + "?" + pageQuery());
    run();
  });

  if (variable) {
    variable.addEventListener("change", function () {
      if (variable.value === "") return;
      expression.value = variable.value;
      history.pushState(null, "", config.page + "?" + pageQuery());
      run();
    });
    expression.addEventListener("input", function () {
      var match = Array.prototype.some.call(variable.options, function (option) {
        return option.value === expression.value;
      });
      variable.value = match ? expression.value : "";
    });
  }

  logScale.addEventListener("change", function () {
    history.replaceState(null, "", config.page + "?" + pageQuery());
    if (last) {
      window.Plotly.relayout(plot, { "yaxis.type": logScale.checked ? "log" : "linear" });
      plot.setAttribute("data-scale", logScale.checked ? "log" : "linear");
      updateLinks();
    }
  });

  window.addEventListener("popstate", function () {
    // Back and forward: the form as the address says, then its histogram.
    var params = new URLSearchParams(window.location.search);
    FIELDS.forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (input) input.value = params.get(name) || "";
    });
    logScale.checked = params.get("log") === "1";
    if (params.get("expression")) run();
  });

  if (config.plot) run();
})();
