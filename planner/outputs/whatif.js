/*
 * planner: the map's what-if panel (issue 18). Inlined into the map by
 * planner/outputs/maps.py; its data and words come from planner/outputs/whatif.py.
 *
 * Switch stations and proposed sites on and off, add units at candidate sites,
 * and the headline figures, the municipalities' shares, a response-time surface
 * and the nearest-site catchments follow at once. The figures use the formulas
 * of planner.analysis.coverage (shares within each threshold, unreachable share,
 * inverted-CDF weighted median and 90th percentile of the reached demand) and the
 * survival model of planner.optimise.MaxSurvival. Every text from data is shown
 * with textContent, never as HTML.
 */
function plannerWhatIf(map, surfaces, config) {
    'use strict';
    var words = config.words, fmt = config.format;
    var sites = config.sites, nSites = sites.length, nDemand = config.n_demand;
    var limits = config.thresholds_s;
    var api = {ready: false, failed: false, timings: [], sites: sites};
    window.plannerWhatIf = api;

    // ----- reading the packed arrays ------------------------------------
    function bytes(text) {
        var raw = atob(text), out = new Uint8Array(raw.length);
        for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
        return out;
    }
    function inflate(text) {
        var stream = new Blob([bytes(text)]).stream().pipeThrough(new DecompressionStream('deflate'));
        return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); });
    }
    function joined(planes, size) {  // byte planes -> little-endian values
        var n = planes.length / size, out = new Uint8Array(planes.length);
        for (var p = 0; p < size; p++) {
            var off = p * n;
            for (var i = 0; i < n; i++) { out[i * size + p] = planes[off + i]; }
        }
        return out.buffer;
    }
    function u32(text) { return inflate(text).then(function (b) { return new Uint32Array(joined(b, 4)); }); }
    function f64(text) { return inflate(text).then(function (b) { return new Float64Array(joined(b, 8)); }); }
    function csr(packed) {
        return Promise.all([u32(packed.counts), u32(packed.index), u32(packed.time)]).then(function (a) {
            var counts = a[0], dIndex = a[1], dTime = a[2];
            var ptr = new Uint32Array(counts.length + 1);
            for (var r = 0; r < counts.length; r++) { ptr[r + 1] = ptr[r] + counts[r]; }
            var index = new Uint32Array(dIndex.length), time = new Uint32Array(dTime.length);
            for (r = 0; r < counts.length; r++) {
                var i = 0, t = 0;
                for (var k = ptr[r]; k < ptr[r + 1]; k++) {
                    var z = dTime[k], d = (z >>> 1) ^ -(z & 1);
                    i = k === ptr[r] ? dIndex[k] : i + dIndex[k];
                    t = k === ptr[r] ? d : t + d;
                    index[k] = i;
                    time[k] = t;
                }
            }
            return {ptr: ptr, index: index, time: time};
        });
    }

    // ----- numbers in the map's language --------------------------------
    var formats = {};
    function number(value, digits, signed) {
        var key = digits + (signed ? 's' : '');
        if (!formats[key]) {
            formats[key] = new Intl.NumberFormat(fmt.lang, {minimumFractionDigits: digits,
                maximumFractionDigits: digits, signDisplay: signed ? 'exceptZero' : 'auto'});
        }
        return formats[key].format(value);
    }
    function show(kind, value, signed) {
        if (value === null || value === undefined || isNaN(value)) { return '–'; }
        if (!isFinite(value)) { return signed ? '–' : fmt.unreachable; }
        if (kind === 'share') { return fmt.percent.replace('{v}', number(100 * value, 1, signed)); }
        if (kind === 'minutes') { return fmt.minutes.replace('{v}', number(value, 1, signed)); }
        return number(value, 1, signed);
    }

    // ----- the figures (planner.analysis.coverage.summarise) ------------
    var weight, groups = null, demand, cells = null, maxSecond = 0, survival;
    var nGroups = config.group_names.length;
    function nearest(matrix, n, mask, outTime, outSite) {
        outTime.fill(Infinity);
        if (outSite) { outSite.fill(-1); }
        for (var s = 0; s < nSites; s++) {
            if (!mask[s]) { continue; }
            var ptr = matrix.ptr, index = matrix.index, time = matrix.time;
            for (var k = ptr[s]; k < ptr[s + 1]; k++) {
                var j = index[k], t = time[k];
                if (t < outTime[j]) {  // equal times keep the lower site, as Python does
                    outTime[j] = t;
                    if (outSite) { outSite[j] = s; }
                }
            }
        }
    }
    function quantile(hist, reached, q) {
        if (!(reached > 0)) { return NaN; }
        var cum = 0;
        for (var s = 0; s < hist.length; s++) {
            if (hist[s] <= 0) { continue; }
            cum += hist[s];
            if (cum / reached >= q) { return s / 60; }
        }
        return (hist.length - 1) / 60;
    }
    function summarise(times) {
        var nT = limits.length, within = new Float64Array(nT), hist = new Float64Array(maxSecond + 1);
        var total = 0, unreachable = 0, reached = 0, survivors = 0;
        var gTotal = new Float64Array(nGroups), gUnreach = new Float64Array(nGroups);
        var gWithin = new Float64Array(nGroups * nT);
        for (var i = 0; i < nDemand; i++) {
            var w = weight[i], t = times[i], g = groups ? groups[i] - 1 : -1;
            total += w;
            if (g >= 0) { gTotal[g] += w; }
            if (t === Infinity) {
                unreachable += w;
                if (g >= 0) { gUnreach[g] += w; }
                continue;
            }
            for (var k = 0; k < nT; k++) {
                if (t <= limits[k]) {
                    within[k] += w;
                    if (g >= 0) { gWithin[g * nT + k] += w; }
                }
            }
            hist[t] += w;
            reached += w;
            survivors += w * survival[t];
        }
        var share = function (x, of) { return of > 0 ? x / of : NaN; };
        var out = {
            demand: total,
            share_unreachable: share(unreachable, total),
            share_within: Array.prototype.map.call(within, function (x) { return share(x, total); }),
            median_min: quantile(hist, reached, 0.5),
            p90_min: quantile(hist, reached, 0.9),
            survivors: survivors * config.arrests_per_weight,
            municipalities: []
        };
        for (var gi = 0; gi < nGroups; gi++) {
            var row = {name: config.group_names[gi], share_unreachable: share(gUnreach[gi], gTotal[gi]),
                       share_within: []};
            for (k = 0; k < nT; k++) { row.share_within.push(share(gWithin[gi * nT + k], gTotal[gi])); }
            out.municipalities.push(row);
        }
        return out;
    }

    // ----- state ---------------------------------------------------------
    var plan = new Uint8Array(nSites), on = new Uint8Array(nSites);
    sites.forEach(function (s, i) { plan[i] = s.on ? 1 : 0; });
    on.set(plan);
    var demandTime = new Float64Array(nDemand), cellTime = null, cellSite = null;
    var planFigures = null, comparing = false, changed = false;

    // ----- the panel -----------------------------------------------------
    var style = document.createElement('style');
    style.textContent = [
        '.planner-whatif { background: rgba(255,255,255,0.95); padding: 6px 9px; max-height: 40vh;',
        '  overflow: auto; width: 330px; font: 12px/1.35 sans-serif; color: #222; border-radius: 5px;',
        '  box-shadow: 0 1px 5px rgba(0,0,0,0.35); }',
        '.planner-whatif b.planner-whatif-title { font-size: 14px; display: block; margin-bottom: 3px;',
        '  cursor: pointer; }',
        '.planner-whatif.planner-whatif-closed > :not(.planner-whatif-title) { display: none; }',
        '.planner-whatif table { border-collapse: collapse; width: 100%; margin: 3px 0; }',
        '.planner-whatif th { text-align: left; font-weight: normal; padding: 1px 6px 1px 0; }',
        '.planner-whatif td { text-align: right; white-space: nowrap; padding: 1px 0 1px 6px; }',
        '.planner-whatif td.planner-whatif-value { font-weight: bold; }',
        '.planner-whatif button { margin: 2px 3px 2px 0; font-size: 12px; }',
        '.planner-whatif label { display: block; cursor: pointer; }',
        '.planner-whatif .planner-whatif-status { color: #444; font-style: italic; min-height: 1em; }',
        '.planner-whatif .planner-whatif-note { color: #555; font-size: 11px; margin-top: 4px; }',
        '.planner-whatif textarea { width: 100%; height: 90px; font: 11px monospace; }',
        '.planner-whatif-candidate { background: #fff; border: 2px solid #555; border-radius: 50%; }',
        '.planner-whatif-candidate.planner-whatif-on { background: #c62828; border-color: #fff; }'
    ].join('\n');
    document.head.appendChild(style);

    var control = L.control({position: 'bottomleft'});
    var div = L.DomUtil.create('div', 'planner-whatif');
    function el(tag, parent, text, cls) {
        var e = document.createElement(tag);
        if (cls) { e.className = cls; }
        if (text !== undefined && text !== null) { e.textContent = text; }
        if (parent) { parent.appendChild(e); }
        return e;
    }
    var title = el('b', div, words.title + ' \u25be', 'planner-whatif-title');
    title.title = words.fold;
    title.addEventListener('click', function () {  // fold the panel away, and open it again
        var closed = div.classList.toggle('planner-whatif-closed');
        title.textContent = words.title + (closed ? ' \u25b8' : ' \u25be');
    });
    var status = el('div', div, words.loading, 'planner-whatif-status');
    control.onAdd = function () {
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    control.addTo(map);

    var figureTable, rows = {}, municipalityRows = [], siteInputs = [], addedList, csvBox;
    var FIGURES = [];
    limits.forEach(function (_, k) { FIGURES.push(['within_' + k, words.within[k], 'share']); });
    FIGURES.push(['median_min', words.median, 'minutes'], ['p90_min', words.p90, 'minutes'],
                 ['share_unreachable', words.unreachable, 'share'], ['survivors', words.survivors, 'number']);
    function value(figures, key) {
        return key.indexOf('within_') === 0 ? figures.share_within[+key.slice(7)] : figures[key];
    }

    function build() {
        figureTable = el('table', div, null, 'planner-whatif-figures');
        var head = figureTable.insertRow();
        [words.figure, words.whatif, words.plan, words.change].forEach(function (w, i) {
            var th = el('th', head, w);
            if (i >= 2) { th.className = 'planner-whatif-plan'; }
        });
        FIGURES.forEach(function (f) {
            var tr = figureTable.insertRow();
            el('th', tr, f[1]);
            var cell = el('td', tr, '', 'planner-whatif-value');
            cell.setAttribute('data-figure', f[0]);
            rows[f[0]] = [cell, el('td', tr, '', 'planner-whatif-plan'), el('td', tr, '', 'planner-whatif-plan')];
        });
        var buttons = el('div', div);
        el('button', buttons, words.reset, 'planner-whatif-reset').addEventListener('click', reset);
        var compare = el('button', buttons, words.compare, 'planner-whatif-compare');
        compare.addEventListener('click', function () {
            comparing = !comparing;
            compare.textContent = comparing ? words.uncompare : words.compare;
            render();
        });
        el('button', buttons, words.copy, 'planner-whatif-copy').addEventListener('click', copy);
        csvBox = el('textarea', div, null, 'planner-whatif-csv');
        csvBox.readOnly = true;
        csvBox.style.display = 'none';
        toggles();
        lists();
        if (nGroups) {
            var details = el('details', div);
            el('summary', details, words.municipalities);
            var table = el('table', details, null, 'planner-whatif-municipalities');
            var head2 = table.insertRow();
            el('th', head2, words.municipality);
            words.within.forEach(function (w) { el('th', head2, w); });
            config.group_names.forEach(function (name) {
                var tr = table.insertRow();
                el('th', tr, name);
                municipalityRows.push(limits.map(function () { return el('td', tr, ''); }));
            });
        }
        if (words.cutoff) { el('div', div, words.cutoff, 'planner-whatif-note'); }
        if (cells) { el('div', div, words.surface_note, 'planner-whatif-note'); }
    }

    function checkbox(parent, text, checked, onChange, cls) {
        var label = el('label', parent, null, cls);
        var input = el('input', label);
        input.type = 'checkbox';
        input.checked = checked;
        label.appendChild(document.createTextNode(' ' + text));
        input.addEventListener('change', function () { onChange(input.checked); });
        return input;
    }

    // candidates (shown on demand) and units added at them
    var candidateLayer = L.layerGroup().addTo(map), markers = {}, showAll = false, clickToAdd = false;
    function candidateMarkers() {
        sites.forEach(function (s, i) {
            if (s.kind !== 'candidate') { return; }
            var marker = L.marker([s.lat, s.lon], {icon: L.divIcon({className: 'planner-whatif-candidate',
                iconSize: [12, 12], iconAnchor: [6, 6]}), keyboard: false});
            var tip = document.createElement('span');
            tip.textContent = s.name;
            marker.bindTooltip(tip);
            marker.on('click', function () {
                set(i, !on[i]);
                message(on[i] ? words.added_site.replace('{name}', s.name) : '');
            });
            markers[i] = marker;
        });
    }
    function showCandidates() {
        Object.keys(markers).forEach(function (key) {
            var i = +key, marker = markers[i], visible = showAll || on[i] === 1;
            if (visible && !candidateLayer.hasLayer(marker)) { candidateLayer.addLayer(marker); }
            if (!visible && candidateLayer.hasLayer(marker)) { candidateLayer.removeLayer(marker); }
            var icon = marker.getElement();
            if (icon) { icon.classList.toggle('planner-whatif-on', on[i] === 1); }
            if (icon) { icon.setAttribute('data-site', String(i)); }
        });
    }
    map.on('click', function (event) {
        if (!clickToAdd || !api.ready) { return; }
        var best = -1, bestD = Infinity, lat0 = event.latlng.lat, lon0 = event.latlng.lng;
        var kx = 111320 * Math.cos(lat0 * Math.PI / 180), ky = 110540;
        sites.forEach(function (s, i) {
            if (s.kind !== 'candidate') { return; }
            var dx = (s.lon - lon0) * kx, dy = (s.lat - lat0) * ky, d = Math.sqrt(dx * dx + dy * dy);
            if (d < bestD) { bestD = d; best = i; }
        });
        if (best < 0) { return; }
        set(best, true);
        message(words.added_at.replace('{name}', sites[best].name).replace('{km}', number(bestD / 1000, 1)));
    });

    // the panel's surface and catchments, on the map's own surface cells
    var surfaceLayer = null, catchmentLayer = null, surfaceInput = null, polygons = [], catchPolygons = [];
    function cellLayers() {
        var source = surfaces[1] || surfaces[0], shapes = [];
        if (!source || !cells) { return false; }
        source.eachLayer(function (geo) {
            if (!geo.eachLayer) { return; }
            geo.eachLayer(function (poly) {
                if (poly.feature && poly.getLatLngs) { shapes[+poly.feature.id] = poly.getLatLngs(); }
            });
        });
        if (shapes.length !== config.n_cells) { return false; }
        var renderer = L.canvas({padding: 0.2});
        surfaceLayer = L.layerGroup();
        catchmentLayer = L.layerGroup();
        shapes.forEach(function (shape) {
            var base = {renderer: renderer, weight: 0.5, fillOpacity: 0.65, interactive: false};
            var a = L.polygon(shape, base), b = L.polygon(shape, base);
            a._plannerColour = b._plannerColour = null;
            polygons.push(a);
            catchPolygons.push(b);
            surfaceLayer.addLayer(a);
            catchmentLayer.addLayer(b);
        });
        return true;
    }
    function paint(poly, colour) {
        if (poly._plannerColour !== colour) {
            poly._plannerColour = colour;
            poly.setStyle({fillColor: colour, color: colour});
        }
    }
    function recolour() {
        if (!surfaceLayer) { return; }
        nearest(cells, config.n_cells, on, cellTime, cellSite);
        var colours = config.class_colours, palette = config.catchment_colours;
        for (var c = 0; c < config.n_cells; c++) {
            var t = cellTime[c], k = 0;
            while (k < limits.length && t > limits[k]) { k++; }
            paint(polygons[c], t === Infinity ? config.unreachable_colour : colours[k]);
            var s = cellSite[c];
            paint(catchPolygons[c], s < 0 ? config.unreachable_colour : palette[s % palette.length]);
        }
    }
    function toggles() {
        checkbox(div, words.show_candidates, false, function (v) { showAll = v; showCandidates(); },
                 'planner-whatif-show-candidates');
        checkbox(div, words.click_to_add, false, function (v) { clickToAdd = v; }, 'planner-whatif-click');
        if (cellLayers()) {
            surfaceInput = checkbox(div, words.surface, false, function (v) {
                if (v) { surfaceLayer.addTo(map); } else { map.removeLayer(surfaceLayer); }
            }, 'planner-whatif-surface');
            checkbox(div, words.catchments, false, function (v) {
                if (v) { catchmentLayer.addTo(map); } else { map.removeLayer(catchmentLayer); }
            }, 'planner-whatif-catchments');
        }
    }
    function lists() {
        [['station', words.stations], ['proposed', words.proposed]].forEach(function (group) {
            var members = [];
            sites.forEach(function (s, i) { if (s.kind === group[0]) { members.push(i); } });
            if (!members.length) { return; }
            var details = el('details', div);
            details.open = true;
            el('summary', details, group[1]);
            members.forEach(function (i) {
                siteInputs[i] = checkbox(details, sites[i].name, on[i] === 1, function (v) { set(i, v); },
                                         'planner-whatif-site');
                siteInputs[i].setAttribute('data-site', String(i));
            });
        });
        var added = el('details', div);
        added.open = true;
        el('summary', added, words.added);
        addedList = el('div', added);
    }
    function renderAdded() {
        addedList.textContent = '';
        sites.forEach(function (s, i) {
            if (s.kind !== 'candidate' || !on[i]) { return; }
            var input = checkbox(addedList, s.name, true, function (v) { set(i, v); }, 'planner-whatif-site');
            input.setAttribute('data-site', String(i));
        });
    }

    // ----- updating ------------------------------------------------------
    var current = null;
    function message(text) { status.textContent = text; }
    function render() {
        FIGURES.forEach(function (f) {
            var cellsOfRow = rows[f[0]], v = value(current, f[0]), p = value(planFigures, f[0]);
            cellsOfRow[0].textContent = show(f[2], v);
            cellsOfRow[0].setAttribute('data-value', String(v));
            cellsOfRow[1].textContent = show(f[2], p);
            cellsOfRow[2].textContent = show(f[2], v - p, true);
        });
        Array.prototype.forEach.call(div.querySelectorAll('.planner-whatif-plan'), function (e) {
            e.style.display = comparing ? '' : 'none';
        });
        current.municipalities.forEach(function (row, g) {
            row.share_within.forEach(function (v, k) { municipalityRows[g][k].textContent = show('share', v); });
        });
        siteInputs.forEach(function (input, i) { if (input) { input.checked = on[i] === 1; } });
        renderAdded();
        showCandidates();
    }
    function update() {
        var start = performance.now();
        nearest(demand, nDemand, on, demandTime, null);
        current = summarise(demandTime);
        recolour();
        render();
        var ms = performance.now() - start;
        api.timings.push(ms);
        api.lastMs = ms;
        return current;
    }
    function set(i, value) {
        on[i] = value ? 1 : 0;
        if (!changed && surfaceInput && !surfaceInput.checked) {  // show what changes, once
            surfaceInput.checked = true;
            surfaceLayer.addTo(map);
        }
        changed = true;
        update();
        message(words.update_ms.replace('{ms}', number(api.lastMs, 0)));
    }
    function reset() {
        on.set(plan);
        update();
        message('');
    }
    function csvText() {
        var quote = function (text) {
            text = String(text);
            if (config.formula_prefixes.some(function (p) { return text.indexOf(p) === 0; })) {
                text = "'" + text;  // never a spreadsheet formula
            }
            return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
        };
        var lines = ['name,lon,lat,fleet,units'];
        sites.forEach(function (s, i) {
            if (!on[i]) { return; }
            lines.push([quote(s.name), s.lon.toFixed(6), s.lat.toFixed(6), quote(s.fleet), s.units].join(','));
        });
        return lines.join('\n') + '\n';
    }
    function copy() {
        var text = csvText();
        csvBox.value = text;
        csvBox.style.display = '';
        csvBox.select();
        var done = function () { message(words.copied); };
        var byHand = function () { message(words.copy_by_hand); };
        if (navigator.clipboard && navigator.clipboard.writeText) {
            navigator.clipboard.writeText(text).then(done, byHand);
        } else {
            byHand();
        }
    }

    api.set = function (mask) {
        for (var i = 0; i < nSites; i++) { on[i] = mask[i] ? 1 : 0; }
        return update();
    };
    api.toggle = set;
    api.figures = function () { return current; };
    api.plan = function () { return planFigures; };
    api.open = function () { return Array.prototype.slice.call(on); };
    api.csv = csvText;
    api.reset = reset;

    // ----- start ---------------------------------------------------------
    var arrays = config.arrays;
    var jobs = [f64(arrays.weight), csr(arrays.demand), arrays.groups ? u32(arrays.groups) : null,
                arrays.cells ? csr(arrays.cells) : null];
    Promise.all(jobs).then(function (read) {
        weight = read[0];
        demand = read[1];
        groups = read[2];
        cells = read[3];
        [demand, cells].forEach(function (m) {
            if (!m) { return; }
            for (var k = 0; k < m.time.length; k++) { if (m.time[k] > maxSecond) { maxSecond = m.time[k]; } }
        });
        survival = new Float64Array(maxSecond + 1);
        var a = config.survival[0], b = config.survival[1];
        for (var s = 0; s <= maxSecond; s++) { survival[s] = 1 / (1 + Math.exp(a + b * s / 60)); }
        if (cells) {
            cellTime = new Float64Array(config.n_cells);
            cellSite = new Int32Array(config.n_cells);
        }
        build();
        candidateMarkers();
        current = planFigures = summarise((nearest(demand, nDemand, plan, demandTime, null), demandTime));
        update();
        message('');
        api.ready = true;
    }).catch(function (error) {
        api.failed = true;
        message(words.failed + ' (' + String(error) + ')');
    });
}
