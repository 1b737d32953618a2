// The krill HTML report's script (embedded in the page by src/report/html_report.cpp).
// It reads the study's data (<script id="krill-data">, the JSON of report::to_json), draws one
// ECharts instance per <div class="chart" data-kind=...> (and one per contour plot, in a div of
// its own made inside <div class="contours">), fills the summary and the tables of failed and
// stopped trials (<div class="trial-table" data-table=...>), and exposes
//   window.krillReport = {charts: {<name>: echartsInstance}, data: <the JSON>}.
// A chart with nothing to draw shows a message in its div instead and is absent from `charts`.
// In live mode (krill report --serve) it fetches the data again every few seconds and updates the
// charts in place (setOption merges, so zoom and legend selections are kept).
// It writes nothing to the console.
(function () {
  'use strict';

  var STATE_COLORS = {
    completed: '#3b73c4',
    stopped: '#e69f00',
    failed: '#d1495b',
    diverged: '#8e5bb5',
    running: '#9aa3b2'
  };
  var STATES = ['completed', 'stopped', 'failed', 'diverged', 'running'];
  var MANY = 500;  // above this many trials, lines are merged into one series per state
  var NO_FINISHED = 'Nothing to draw: no finished trials yet.';
  var FAILED_STATES = ['failed', 'diverged'];

  var config = JSON.parse(document.getElementById('krill-config').textContent);
  var report = {charts: {}, data: JSON.parse(document.getElementById('krill-data').textContent)};
  window.krillReport = report;

  // --- Helpers ---

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }

  function fmt(v) {
    if (v === null || v === undefined) return '\u2013';
    if (typeof v !== 'number') return String(v);
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
    return String(Math.round(v * 1e4) / 1e4);
  }

  function duration(seconds) {
    if (!(seconds > 0)) return '0 s';
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    if (h > 0) return h + ' h ' + m + ' min';
    if (m > 0) return m + ' min ' + Math.round(s) + ' s';
    return s.toFixed(1) + ' s';
  }

  // One scatter series per trial state present, each point [x, y] = xy(trial), colour by state.
  function scatterByState(trials, opacity, xy) {
    return STATES.filter(function (s) {
      return trials.some(function (t) { return t.state === s; });
    }).map(function (s) {
      return {
        type: 'scatter', name: capital(s), symbolSize: 7,
        itemStyle: {color: STATE_COLORS[s], opacity: opacity},
        data: trials.filter(function (t) { return t.state === s; }).map(function (t) {
          return {value: xy(t), trial: t.number};
        })
      };
    });
  }

  function capital(s) {
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function maximize(d) {
    return d.study.direction === 'maximize';
  }

  function objectiveName(d) {
    return d.study.objective || 'value';
  }

  function valued(d) {
    return d.trials.filter(function (t) {
      return t.value !== null && t.state !== 'running';
    });
  }

  // "2 failed, 1 diverged" (the trials that ended without a value), or ''.
  function failureCounts(d) {
    return FAILED_STATES.map(function (s) {
      var n = d.trials.filter(function (t) { return t.state === s; }).length;
      return n ? n + ' ' + s : '';
    }).filter(Boolean).join(', ');
  }

  // Why a chart of values has nothing to draw: no trial finished yet, or every finished one
  // failed (then the errors are in the failures table).
  function noValues(d) {
    var failures = failureCounts(d);
    if (!failures) return NO_FINISHED;
    return 'Nothing to draw: no trial finished with a value (' + failures +
           '; see "Failed trials" for their errors).';
  }

  // The study's start: the first trial's start (the study record may predate a resume).
  function studyStart(d) {
    var t0 = Infinity;
    d.trials.forEach(function (t) {
      if (t.started > 0 && t.started < t0) t0 = t.started;
    });
    return isFinite(t0) ? t0 : d.study.created;
  }

  function paramsText(t, sep) {
    return Object.keys(t.params).map(function (k) {
      return esc(k) + '=' + esc(fmt(t.params[k]));
    }).join(sep);
  }

  function trialTip(d, t) {
    var lines = ['<b>Trial ' + t.number + '</b> (' + t.state + ')'];
    if (t.value !== null) lines.push(esc(objectiveName(d)) + ': ' + fmt(t.value));
    var p = paramsText(t, '<br>');
    if (p) lines.push(p);
    if (t.stop) {
      lines.push('<i>stopped at step ' + t.stop.step + ': ' + esc(t.stop.reason) + '</i>');
    }
    if (t.error) lines.push('<i>' + esc(t.error) + '</i>');
    return lines.join('<br>');
  }

  function byNumber(d) {
    var map = {};
    d.trials.forEach(function (t) { map[t.number] = t; });
    return map;
  }

  function isCategorical(dim) {
    return dim.kind === 'choice' || dim.kind === 'grid';
  }

  // The distinct values of a parameter, numbers in numeric order, then strings.
  function distinctValues(d, name) {
    var seen = {}, values = [];
    d.trials.forEach(function (t) {
      if (!(name in t.params)) return;
      var v = t.params[name], key = typeof v + ':' + v;
      if (!seen[key]) {
        seen[key] = true;
        values.push(v);
      }
    });
    values.sort(function (a, b) {
      if (typeof a === 'number' && typeof b === 'number') return a - b;
      if (typeof a === 'number') return -1;
      if (typeof b === 'number') return 1;
      return a < b ? -1 : a > b ? 1 : 0;
    });
    return values.map(String);
  }

  function base(d) {
    return {
      animation: d.trials.length <= 200,
      textStyle: {fontFamily: 'system-ui, sans-serif'},
      grid: {left: 64, right: 24, top: 40, bottom: 56}
    };
  }

  function merge(target, extra) {
    Object.keys(extra).forEach(function (k) { target[k] = extra[k]; });
    return target;
  }

  // --- Charts: each returns {option, replace} or {empty: message} ---

  function history(d, byTime) {
    var trials = valued(d);
    if (!trials.length) return {empty: noValues(d)};
    var t0 = studyStart(d);
    var x = byTime ? function (t) { return t.finished - t0; } : function (t) { return t.number; };
    var max = maximize(d), best = null, bestLine = [];
    trials.slice().sort(function (a, b) { return x(a) - x(b); }).forEach(function (t) {
      if (best === null || (max ? t.value > best : t.value < best)) best = t.value;
      bestLine.push([x(t), best]);
    });
    var trialOf = byNumber(d);
    var series = scatterByState(trials, 0.85, function (t) { return [x(t), t.value]; });
    series.push({
      type: 'line', name: 'Best so far', step: 'end', showSymbol: false, z: 1,
      lineStyle: {color: '#1d2330', width: 2}, itemStyle: {color: '#1d2330'}, data: bestLine
    });
    return {
      replace: ['series'],
      option: merge(base(d), {
        legend: {top: 0},
        tooltip: {
          trigger: 'item',
          formatter: function (p) {
            if (p.data && p.data.trial !== undefined) return trialTip(d, trialOf[p.data.trial]);
            return 'best so far: ' + fmt(p.value[1]);
          }
        },
        dataZoom: [{type: 'inside', xAxisIndex: 0}],
        xAxis: {type: 'value', name: byTime ? 'seconds since the first start' : 'trial',
                nameLocation: 'middle', nameGap: 28, scale: !byTime, minInterval: byTime ? 0 : 1},
        yAxis: {type: 'value', name: objectiveName(d), scale: true},
        series: series
      })
    };
  }

  function lineStyleFor(t) {
    switch (t.state) {
      case 'stopped': return {color: STATE_COLORS.stopped, type: 'dashed', width: 1.2, opacity: 0.8};
      case 'failed': return {color: STATE_COLORS.failed, type: 'dotted', width: 1.5, opacity: 0.9};
      case 'diverged': return {color: STATE_COLORS.diverged, type: 'dotted', width: 1.5, opacity: 0.9};
      case 'running': return {color: STATE_COLORS.running, type: 'solid', width: 1.2, opacity: 0.8};
      default: return {color: STATE_COLORS.completed, type: 'solid', width: 1.2, opacity: 0.55};
    }
  }

  // Lines per trial: `points(t)` gives a trial's [[step, value], ...] (or nothing).
  function trialLines(d, points, yName, emptyMessage, yLog) {
    var trials = d.trials.filter(function (t) {
      var p = points(t);
      return p && p.length > 0;
    });
    if (!trials.length) return {empty: emptyMessage};
    var total = 0;
    trials.forEach(function (t) { total += points(t).length; });
    var positive = yLog && trials.every(function (t) {
      return points(t).every(function (p) { return p[1] > 0; });
    });
    var series, owners = [];  // owners[seriesIndex] = trial, or a per-point array when merged
    if (trials.length <= MANY) {
      series = trials.map(function (t) {
        var style = lineStyleFor(t);
        owners.push(t);
        return {
          type: 'line', name: 'Trial ' + t.number, data: points(t),
          showSymbol: total <= 5000 || points(t).length === 1, symbolSize: 3,
          triggerLineEvent: true, lineStyle: style, itemStyle: {color: style.color},
          emphasis: {lineStyle: {width: 3, opacity: 1}}
        };
      });
    } else {
      // Thousands of trials: one series per state, the trials' lines separated by empty points.
      series = [];
      STATES.forEach(function (s) {
        var group = trials.filter(function (t) { return t.state === s; });
        if (!group.length) return;
        var data = [], who = [];
        group.forEach(function (t) {
          points(t).forEach(function (p) {
            data.push(p);
            who.push(t);
          });
          data.push([null, null]);
          who.push(null);
        });
        var style = lineStyleFor(group[0]);
        style.width = 1;
        style.opacity = Math.min(style.opacity, 0.35);
        owners.push(who);
        series.push({type: 'line', name: capital(s), data: data, showSymbol: false,
                     connectNulls: false, triggerLineEvent: true, large: true,
                     lineStyle: style, itemStyle: {color: style.color}});
      });
    }
    return {
      replace: ['series'],
      option: merge(base(d), {
        tooltip: {
          trigger: 'item', confine: true,
          formatter: function (p) {
            if (p.data && p.data.tip) return p.data.tip;  // marks added by the caller
            var owner = owners[p.seriesIndex];
            if (Array.isArray(owner)) owner = owner[p.dataIndex];
            if (!owner) return '';
            var at = Array.isArray(p.value) && p.value[0] !== null ?
                '<br>step ' + p.value[0] + ': ' + fmt(p.value[1]) : '';
            return trialTip(d, owner) + at;
          }
        },
        dataZoom: [{type: 'inside', xAxisIndex: 0}, {type: 'inside', yAxisIndex: 0}],
        xAxis: {type: 'value', name: 'step', nameLocation: 'middle', nameGap: 28, scale: true},
        yAxis: {type: positive ? 'log' : 'value', name: yName, scale: true},
        series: series
      })
    };
  }

  function curves(d) {
    return trialLines(d, function (t) { return t.curve; }, objectiveName(d),
                      'Nothing to draw: no learning curve reported yet.', false);
  }

  // A trial's learning rate as drawn: its reported points, with a step at each PBT exploit that
  // changed it (exploit.lr: the rate from the exploit's step on).
  function lrPoints(t) {
    var points = t.metrics && t.metrics.lr;
    if (!points || !t.exploits || !t.exploits.length) return points;
    var out = [];
    points.forEach(function (p) {
      out.push(p);
      t.exploits.forEach(function (e) {
        if (e.step === p[0] && e.lr !== null && e.lr !== p[1]) out.push([p[0], e.lr]);
      });
    });
    return out;
  }

  // "Trial 3 copied trial 0 at step 100" and the hyperparameters it took (HTML, escaped).
  function exploitTip(t, e) {
    var params = Object.keys(e.params).map(function (k) {
      return esc(k) + '=' + esc(fmt(e.params[k]));
    }).join('<br>');
    return '<b>Trial ' + t.number + '</b> copied trial ' + e.donor + ' at step ' + e.donor_step +
           (params ? '<br>' + params : '');
  }

  function hasExploits(d) {
    return d.trials.some(function (t) { return t.exploits && t.exploits.length > 0; });
  }

  function learningRates(d) {
    var built = trialLines(d, lrPoints, 'learning rate',
                           'No trial reported a learning rate (the "lr" metric) yet.', true);
    if (built.empty) return built;
    var marks = [];
    d.trials.forEach(function (t) {
      (t.exploits || []).forEach(function (e) {
        if (e.lr !== null && e.lr > 0) marks.push({value: [e.step, e.lr], tip: exploitTip(t, e)});
      });
    });
    if (marks.length) {
      built.option.series.push({type: 'scatter', name: 'PBT exploits', symbol: 'diamond',
                                symbolSize: 9, z: 5, data: marks,
                                itemStyle: {color: '#111', borderColor: '#fff', borderWidth: 1}});
    }
    return built;
  }

  // PBT's family tree: a line per member over the steps (rows: trials, top down), and an arrow
  // from the donor's line at its step to each member that copied it.
  function lineage(d) {
    if (!hasExploits(d)) return {empty: 'No PBT exploit yet: no member has copied another.'};
    var members = d.trials.slice().sort(function (a, b) { return a.number - b.number; });
    var row = {}, best = null, max = maximize(d), total = 0;
    members.forEach(function (t, i) {
      row[t.number] = i;
      total += (t.exploits || []).length;
      if (t.state === 'completed' && t.value !== null &&
          (best === null || (max ? t.value > best.value : t.value < best.value))) best = t;
    });
    var series = members.map(function (t, i) {
      var end = 0;
      (t.curve || []).forEach(function (p) { end = Math.max(end, p[0]); });
      (t.exploits || []).forEach(function (e) { end = Math.max(end, e.step); });
      var tip = trialTip(d, t);
      var style = {color: t === best ? '#111' : undefined, width: t === best ? 3 : 1.8,
                   type: t.state === 'completed' || t.state === 'running' ? 'solid' : 'dashed'};
      return {type: 'line', name: 'Trial ' + t.number, showSymbol: true, symbolSize: 4,
              lineStyle: style, itemStyle: style.color ? {color: style.color} : undefined,
              data: [{value: [0, i], tip: tip}, {value: [end, i], tip: tip}]};
    });
    var arrows = [];
    members.forEach(function (t) {
      (t.exploits || []).forEach(function (e) {
        if (!(e.donor in row)) return;
        var label = Object.keys(e.params).map(function (k) {
          return k + '=' + fmt(e.params[k]);
        }).join(' ');
        arrows.push({coords: [[e.donor_step, row[e.donor]], [e.step, row[t.number]]],
                     tip: exploitTip(t, e), label: label});
      });
    });
    series.push({type: 'lines', name: 'Exploits', coordinateSystem: 'cartesian2d', z: 5,
                 symbol: ['circle', 'arrow'], symbolSize: [5, 10], data: arrows,
                 lineStyle: {color: '#444', width: 1.4, opacity: 0.9},
                 label: {show: total <= 12, position: 'end', distance: 6, fontSize: 10,
                         backgroundColor: 'rgba(255,255,255,0.85)', padding: [1, 3],
                         formatter: function (p) { return p.data.label; }}});
    return {
      replace: ['series', 'yAxis'],
      option: merge(base(d), {
        tooltip: {trigger: 'item', confine: true,
                  formatter: function (p) { return p.data && p.data.tip ? p.data.tip : ''; }},
        dataZoom: [{type: 'inside', xAxisIndex: 0}],
        xAxis: {type: 'value', name: 'step', nameLocation: 'middle', nameGap: 28, min: 0},
        yAxis: {type: 'category', inverse: true,
                data: members.map(function (t) { return 'Trial ' + t.number; })},
        series: series
      })
    };
  }

  function colorRange(lo, hi) {
    if (lo === hi) return [lo - 1e-9, hi + 1e-9];
    return [lo, hi];
  }

  function valueColors(d) {
    // Good values are dark: blues for both directions, inverted when minimizing.
    var c = ['#f2e6b5', '#9cc9a0', '#3f8fa6', '#263b8c'];
    return maximize(d) ? c : c.slice().reverse();
  }

  function parallel(d) {
    var trials = valued(d);
    if (!trials.length) return {empty: noValues(d)};
    var dims = d.dims;
    // A conditional parameter's trials without it (its condition was false) sit at a separate
    // "absent" place on its axis: a category of its own, or a tick below a numeric range.
    var absentAt = {};
    var axes = dims.map(function (dim, i) {
      var missing = dim.condition && trials.some(function (t) { return !(dim.name in t.params); });
      if (isCategorical(dim)) {
        var data = distinctValues(d, dim.name);
        if (missing) {
          absentAt[dim.name] = 'absent';
          data.push('absent');
        }
        return {dim: i, name: dim.name, type: 'category', data: data};
      }
      var axis = {dim: i, name: dim.name, type: dim.log ? 'log' : 'value', scale: true};
      if (missing) {
        var lo = Infinity, hi = -Infinity;
        trials.forEach(function (t) {
          if (!(dim.name in t.params)) return;
          lo = Math.min(lo, t.params[dim.name]);
          hi = Math.max(hi, t.params[dim.name]);
        });
        var at;
        if (lo > hi) {
          at = dim.log ? 1 : 0;
        } else if (dim.log && lo > 0) {
          at = lo / Math.pow(hi > lo ? hi / lo : 10, 0.15);
        } else {
          at = lo - 0.15 * (hi > lo ? hi - lo : Math.abs(lo) || 1);
        }
        absentAt[dim.name] = at;
        axis.min = at;
        axis.axisLabel = {formatter: function (v) { return v === at ? 'absent' : fmt(v); }};
      }
      return axis;
    });
    axes.push({dim: dims.length, name: objectiveName(d), type: 'value', scale: true,
               nameTextStyle: {fontWeight: 'bold'}});
    var lo = Infinity, hi = -Infinity;
    var trialOf = byNumber(d);
    var data = trials.map(function (t) {
      lo = Math.min(lo, t.value);
      hi = Math.max(hi, t.value);
      var row = dims.map(function (dim) {
        if (!(dim.name in t.params)) return dim.name in absentAt ? absentAt[dim.name] : null;
        var v = t.params[dim.name];
        return isCategorical(dim) ? String(v) : v;
      });
      row.push(t.value);
      return {value: row, trial: t.number};
    });
    var range = colorRange(lo, hi);
    return {
      replace: ['series', 'parallelAxis'],
      option: merge(base(d), {
        parallel: {left: 64, right: 130, top: 48, bottom: 32},
        parallelAxis: axes,
        tooltip: {trigger: 'item', formatter: function (p) {
          return p.data && p.data.trial !== undefined ? trialTip(d, trialOf[p.data.trial]) : '';
        }},
        visualMap: {type: 'continuous', dimension: dims.length, min: range[0], max: range[1],
                    calculable: true, precision: 4, right: 8, top: 'middle', itemHeight: 160,
                    text: [fmt(range[1]), fmt(range[0])], inRange: {color: valueColors(d)}},
        series: [{type: 'parallel', data: data, smooth: false,
                  lineStyle: {width: 1.2, opacity: 0.6},
                  emphasis: {lineStyle: {width: 3, opacity: 1}},
                  progressive: 500}]
      })
    };
  }

  function slice(d, param) {
    var dim = null;
    d.dims.forEach(function (x) { if (x.name === param) dim = x; });
    var trials = valued(d).filter(function (t) { return param in t.params; });
    // A conditional parameter's trials without it are left out, and counted.
    var absent = valued(d).length - trials.length;
    if (!dim || !trials.length) {
      return {empty: absent ? 'No trial with a value has ' + param + ' (' + absent +
                              ' without it: absent).' : noValues(d)};
    }
    var cat = isCategorical(dim);
    var trialOf = byNumber(d);
    var series = scatterByState(trials, 0.8, function (t) {
      var v = t.params[param];
      return [cat ? String(v) : v, t.value];
    });
    var xAxis = cat ? {type: 'category', data: distinctValues(d, param)} :
        {type: dim.log ? 'log' : 'value', scale: true};
    xAxis.name = param;
    xAxis.nameLocation = 'middle';
    xAxis.nameGap = 28;
    return {
      replace: ['series'],
      option: merge(base(d), {
        legend: {top: 0},
        tooltip: {trigger: 'item', formatter: function (p) {
          return trialTip(d, trialOf[p.data.trial]);
        }},
        xAxis: xAxis,
        yAxis: {type: 'value', name: objectiveName(d), scale: true},
        title: {show: absent > 0, right: 8, bottom: 0,
                text: absent + ' trial' + (absent === 1 ? '' : 's') + ' without ' + param +
                      ' (absent) not shown',
                textStyle: {fontSize: 11, fontWeight: 'normal', color: '#666'}},
        series: series
      })
    };
  }

  function heatmap(d) {
    var grid = d.dims.filter(function (x) { return x.kind === 'grid'; });
    if (grid.length < 2) return {empty: 'A heatmap needs two grid dimensions.'};
    var trials = valued(d).filter(function (t) {
      return grid.slice(0, 3).every(function (g) { return g.name in t.params; });
    });
    if (!trials.length) return {empty: noValues(d)};
    var gx = grid[0], gy = grid[1], gf = grid.length >= 3 ? grid[2] : null;
    var xs = distinctValues(d, gx.name), ys = distinctValues(d, gy.name);
    var facets = gf ? distinctValues(d, gf.name) : [''];
    var cells = {};  // facet|x|y -> [sum, count]
    trials.forEach(function (t) {
      var key = (gf ? String(t.params[gf.name]) : '') + '\u0001' + String(t.params[gx.name]) +
                '\u0001' + String(t.params[gy.name]);
      var c = cells[key] || (cells[key] = [0, 0]);
      c[0] += t.value;
      c[1] += 1;
    });
    var lo = Infinity, hi = -Infinity;
    var n = facets.length, gap = 2, width = (100 - 8 - 6 - gap * (n - 1)) / n;
    var grids = [], xAxes = [], yAxes = [], titles = [], series = [];
    facets.forEach(function (f, k) {
      var left = 8 + k * (width + gap);
      grids.push({left: left + '%', width: width + '%', top: gf ? 48 : 24, bottom: 96});
      xAxes.push({type: 'category', gridIndex: k, data: xs, name: gx.name, nameLocation: 'middle',
                  nameGap: 26, splitArea: {show: true}});
      yAxes.push({type: 'category', gridIndex: k, data: ys, name: k === 0 ? gy.name : '',
                  axisLabel: {show: k === 0}, splitArea: {show: true}});
      if (gf) {
        titles.push({text: gf.name + ' = ' + f, left: (left + width / 2) + '%', top: 16,
                     textAlign: 'center', textStyle: {fontSize: 12, fontWeight: 'normal'}});
      }
      var data = [];
      xs.forEach(function (x, i) {
        ys.forEach(function (y, j) {
          var c = cells[f + '\u0001' + x + '\u0001' + y];
          if (!c) return;
          var mean = c[0] / c[1];
          lo = Math.min(lo, mean);
          hi = Math.max(hi, mean);
          data.push({value: [i, j, mean], count: c[1]});
        });
      });
      series.push({type: 'heatmap', name: gf ? gf.name + ' = ' + f : 'mean', xAxisIndex: k,
                   yAxisIndex: k, data: data,
                   label: {show: xs.length * ys.length * n <= 120,
                           formatter: function (p) { return fmt(p.value[2]); }},
                   emphasis: {itemStyle: {borderColor: '#1d2330', borderWidth: 1}}});
    });
    var range = colorRange(lo, hi);
    return {
      replace: ['series', 'grid', 'xAxis', 'yAxis', 'title'],
      option: merge(base(d), {
        title: titles,
        grid: grids,
        xAxis: xAxes,
        yAxis: yAxes,
        tooltip: {trigger: 'item', formatter: function (p) {
          return esc(gx.name) + '=' + esc(xs[p.value[0]]) + ', ' + esc(gy.name) + '=' +
                 esc(ys[p.value[1]]) + (gf ? '<br>' + esc(p.seriesName) : '') + '<br>mean ' +
                 esc(objectiveName(d)) + ': ' + fmt(p.value[2]) + ' (' + p.data.count +
                 (p.data.count === 1 ? ' trial)' : ' trials)');
        }},
        visualMap: {type: 'continuous', min: range[0], max: range[1], calculable: true, precision: 4,
                    orient: 'horizontal', left: 'center', bottom: 4, itemWidth: 12,
                    text: [fmt(range[1]), fmt(range[0])], inRange: {color: valueColors(d)}},
        series: series
      })
    };
  }

  function timeline(d) {
    var trials = d.trials.filter(function (t) { return t.started > 0; });
    if (!trials.length) return {empty: 'Nothing to draw: no trial started yet.'};
    var t0 = studyStart(d), now = d.generated;
    var workers = [];
    trials.forEach(function (t) { if (workers.indexOf(t.worker) < 0) workers.push(t.worker); });
    workers.sort(function (a, b) { return a - b; });
    var trialOf = byNumber(d);
    var data = trials.map(function (t) {
      var end = t.finished !== null ? t.finished : Math.max(now, t.started);
      return {value: [workers.indexOf(t.worker), t.started - t0, end - t0], trial: t.number,
              itemStyle: {color: STATE_COLORS[t.state] || STATE_COLORS.running}};
    });
    var el = document.getElementById('chart-timeline');
    if (el) el.style.height = Math.max(200, Math.min(900, 90 + 28 * workers.length)) + 'px';
    return {
      replace: ['series'],
      option: merge(base(d), {
        tooltip: {trigger: 'item', formatter: function (p) {
          var t = trialOf[p.data.trial];
          return trialTip(d, t) + '<br>worker ' + t.worker + ', ' +
                 duration(p.value[2] - p.value[1]);
        }},
        dataZoom: [{type: 'inside', xAxisIndex: 0, filterMode: 'weakFilter'}],
        xAxis: {type: 'value', name: 'seconds since the first start', nameLocation: 'middle',
                nameGap: 28, min: 0},
        yAxis: {type: 'category', data: workers.map(function (w) { return 'worker ' + w; }),
                inverse: true},
        series: [{
          type: 'custom', data: data, encode: {x: [1, 2], y: 0},
          renderItem: function (params, api) {
            var row = api.value(0);
            var start = api.coord([api.value(1), row]), end = api.coord([api.value(2), row]);
            var h = api.size([0, 1])[1] * 0.6;
            var cs = params.coordSys;
            var rect = echarts.graphic.clipRectByRect(
                {x: start[0], y: start[1] - h / 2, width: Math.max(end[0] - start[0], 1), height: h},
                {x: cs.x, y: cs.y, width: cs.width, height: cs.height});
            return rect && {type: 'rect', transition: ['shape'], shape: rect,
                            style: merge(api.style(), {stroke: '#fff', lineWidth: 0.5})};
          }
        }]
      })
    };
  }

  // PED-ANOVA importances (computed by krill: data.importance), most important on top.
  function importance(d) {
    var imp = d.importance;
    if (!imp || imp.note) return {empty: imp && imp.note ? imp.note : 'No importance computed.'};
    var params = imp.params;
    var caption = 'from ' + imp.trials + ' completed trials; top 10%: ' + imp.top_trials +
                  (imp.top_trials < 5 ? ' (fewer than 5: a rough estimate)' : '');
    return {
      replace: ['series', 'yAxis'],
      option: merge(base(d), {
        title: {text: caption, left: 'right', top: 0,
                textStyle: {fontSize: 12, fontWeight: 'normal', color: '#5b6475'}},
        grid: {left: 130, right: 56, top: 32, bottom: 40},
        tooltip: {trigger: 'item', formatter: function (p) {
          return '<b>' + esc(p.name) + '</b>: ' + fmt(p.value) + ' of the total';
        }},
        xAxis: {type: 'value', name: 'importance', nameLocation: 'middle', nameGap: 26, min: 0},
        yAxis: {type: 'category', inverse: true,
                data: params.map(function (p) { return p.name; })},
        series: [{type: 'bar', name: 'importance', barMaxWidth: 28,
                  itemStyle: {color: STATE_COLORS.completed},
                  label: {show: true, position: 'right',
                          formatter: function (p) { return p.value.toFixed(3); }},
                  data: params.map(function (p) { return p.importance; })}]
      })
    };
  }

  // A contour axis's value at u in [0, 1] of its range, linear or log (as report/analysis.cpp).
  function axisAt(a, u) {
    return a.log ? Math.exp(Math.log(a.lo) + u * (Math.log(a.hi) - Math.log(a.lo))) :
                   a.lo + u * (a.hi - a.lo);
  }

  // The objective smoothed over two parameters (data.contours.plots[index]), the completed
  // trials as dots coloured on the same scale.
  function contour(d, index) {
    var plots = (d.contours && d.contours.plots) || [];
    var c = plots[Number(index)];
    if (!c) return {empty: (d.contours && d.contours.note) || 'No contour.'};
    var nx = c.x.cells.length, ny = c.y.cells.length, cells = [];
    var lo = Infinity, hi = -Infinity;
    c.points.forEach(function (p) {
      lo = Math.min(lo, p[3]);
      hi = Math.max(hi, p[3]);
    });
    c.z.forEach(function (row, j) {
      row.forEach(function (z, i) {
        // [x, y, z, x0, x1, y0, y1]: the centre, the value, the cell's edges.
        cells.push([c.x.cells[i], c.y.cells[j], z, axisAt(c.x, i / nx), axisAt(c.x, (i + 1) / nx),
                    axisAt(c.y, j / ny), axisAt(c.y, (j + 1) / ny)]);
      });
    });
    var trialOf = byNumber(d);
    var range = colorRange(lo, hi);
    function axis(a) {
      return {type: a.log ? 'log' : 'value', name: a.name + (a.log ? ' (log)' : ''),
              nameLocation: 'middle', nameGap: 28, min: a.lo, max: a.hi};
    }
    return {
      replace: ['series', 'xAxis', 'yAxis'],
      option: merge(base(d), {
        grid: {left: 72, right: 110, top: 24, bottom: 56},
        tooltip: {trigger: 'item', confine: true, formatter: function (p) {
          if (p.seriesIndex === 1) return trialTip(d, trialOf[p.data.trial]);
          return esc(c.x.name) + '=' + fmt(p.value[0]) + ', ' + esc(c.y.name) + '=' +
                 fmt(p.value[1]) + '<br>smoothed ' + esc(objectiveName(d)) + ': ' +
                 fmt(p.value[2]);
        }},
        xAxis: axis(c.x),
        yAxis: axis(c.y),
        visualMap: {type: 'continuous', dimension: 2, seriesIndex: [0, 1], min: range[0],
                    max: range[1], calculable: false, precision: 4, right: 8, top: 'middle',
                    itemHeight: 160, text: [fmt(range[1]), fmt(range[0])],
                    inRange: {color: valueColors(d)}},
        series: [{
          type: 'custom', name: 'surface', data: cells, encode: {x: [3, 4], y: [5, 6]},
          silent: false, z: 1,
          renderItem: function (params, api) {
            var a = api.coord([api.value(3), api.value(5)]);
            var b = api.coord([api.value(4), api.value(6)]);
            return {type: 'rect', shape: {x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]),
                                          width: Math.abs(b[0] - a[0]) + 0.5,
                                          height: Math.abs(b[1] - a[1]) + 0.5},
                    style: {fill: api.visual('color')}};
          }
        }, {
          type: 'scatter', name: 'trials', z: 3, symbolSize: 8,
          itemStyle: {borderColor: '#1d2330', borderWidth: 1.2},
          data: c.points.map(function (p) { return {value: [p[1], p[2], p[3]], trial: p[0]}; })
        }]
      })
    };
  }

  var BUILDERS = {
    'history': function (d) { return history(d, false); },
    'history-time': function (d) { return history(d, true); },
    'curves': curves,
    'parallel': parallel,
    'slice': slice,
    'heatmap': heatmap,
    'lr': learningRates,
    'lineage': lineage,
    'timeline': timeline,
    'importance': importance,
    'contour': contour
  };

  // --- Tables of the trials that failed or were stopped, with why ---

  function tableHtml(head, rows) {
    return '<table class="trials"><thead><tr>' + head.map(function (h) {
      return '<th>' + esc(h) + '</th>';
    }).join('') + '</tr></thead><tbody>' + rows.join('') + '</tbody></table>';
  }

  function failedTable(d) {
    var trials = d.trials.filter(function (t) { return FAILED_STATES.indexOf(t.state) >= 0; });
    if (!trials.length) return null;
    return tableHtml(['Trial', 'State', 'Parameters', 'Error'], trials.map(function (t) {
      return '<tr><td>' + t.number + '</td><td>' + esc(t.state) + '</td><td>' +
             (paramsText(t, '<br>') || '\u2013') + '</td><td class="reason">' +
             esc(t.error || '\u2013') + '</td></tr>';
    }));
  }

  function stoppedTable(d) {
    var trials = d.trials.filter(function (t) { return t.state === 'stopped'; });
    if (!trials.length) return null;
    return tableHtml(['Trial', 'Step', esc(objectiveName(d)), 'Reason', 'Parameters'],
                     trials.map(function (t) {
      var stop = t.stop || {step: null, reason: ''};
      return '<tr><td>' + t.number + '</td><td>' + (stop.step === null ? '\u2013' : stop.step) +
             '</td><td>' + fmt(t.value) + '</td><td class="reason">' +
             esc(stop.reason || 'no stop decision stored') + '</td><td>' +
             (paramsText(t, '<br>') || '\u2013') + '</td></tr>';
    }));
  }

  var TABLES = {
    failed: {build: failedTable, empty: 'No trial failed or diverged.'},
    stopped: {build: stoppedTable, empty: 'No trial was stopped early.'}
  };

  function tables(d) {
    var elements = document.querySelectorAll('div.trial-table');
    for (var i = 0; i < elements.length; ++i) {
      var el = elements[i], table = TABLES[el.getAttribute('data-table')];
      if (!table) continue;
      var html = table.build(d);
      el.classList.toggle('empty', !html);
      if (html) {
        el.innerHTML = html;
      } else {
        el.textContent = table.empty;
      }
    }
  }

  // One chart div per contour plot inside each div.contours, named contour-<x>-<y>; the divs of
  // plots that are gone are removed (with their charts).
  function contourDivs(d, container) {
    var plots = (d.contours && d.contours.plots) || [];
    var wanted = plots.map(function (c, i) {
      return {name: 'contour-' + idPart(c.x.name) + '-' + idPart(c.y.name), index: i,
              title: c.x.name + ' \u00d7 ' + c.y.name};
    });
    var keep = {};
    wanted.forEach(function (w) { keep['chart-' + w.name] = true; });
    var charts = container.querySelectorAll('div.chart[data-kind]');
    Array.prototype.slice.call(charts).forEach(function (el) {
      if (keep[el.id]) return;
      var name = el.getAttribute('data-chart');
      if (report.charts[name]) {
        report.charts[name].dispose();
        delete report.charts[name];
      }
      var cell = el.parentNode;  // the div.contour-cell holding its title and the chart
      cell.parentNode.removeChild(cell);
    });
    var note = container.querySelector('.contour-note');
    if (!wanted.length) {
      if (!note) {
        note = document.createElement('div');
        note.className = 'chart empty contour-note';
        container.appendChild(note);
      }
      note.textContent = (d.contours && d.contours.note) || 'No contour.';
    } else if (note) {
      note.parentNode.removeChild(note);
    }
    wanted.forEach(function (w) {
      var el = document.getElementById('chart-' + w.name);
      if (!el) {
        var cell = document.createElement('div');
        cell.className = 'contour-cell';
        var h = document.createElement('h3');
        h.textContent = w.title;
        cell.appendChild(h);
        el = document.createElement('div');
        el.className = 'chart';
        el.id = 'chart-' + w.name;
        el.setAttribute('data-chart', w.name);
        el.setAttribute('data-kind', 'contour');
        cell.appendChild(el);
      }
      container.appendChild(el.parentNode);  // new, or moved into the plots' order
      el.setAttribute('data-param', String(w.index));
    });
  }

  function idPart(name) {
    var out = String(name).replace(/[^A-Za-z0-9_.-]/g, '_');
    return out || '_';
  }

  // --- Summary table ---

  function row(label, html) {
    return '<tr><th>' + esc(label) + '</th><td>' + html + '</td></tr>';
  }

  function summary(d) {
    var counts = {};
    STATES.forEach(function (s) { counts[s] = 0; });
    var compute = 0;
    d.trials.forEach(function (t) {
      counts[t.state] = (counts[t.state] || 0) + 1;
      if (t.finished !== null && t.started > 0 && t.finished > t.started) {
        // A member trained together with others is charged its share (hpo::compute_seconds).
        var together = t.attrs && t.attrs.population > 1 ? t.attrs.population : 1;
        compute += (t.finished - t.started) / together;
      }
    });
    var stateRows = STATES.map(function (s) {
      return row(capital(s), '<span class="state" style="background:' + STATE_COLORS[s] +
                 '"></span>' + counts[s]);
    }).join('');
    stateRows += row('Total', d.trials.length + ' of ' + d.study.n_trials + ' asked');

    var best = null, max = maximize(d);
    valued(d).forEach(function (t) {
      if (best === null || (max ? t.value > best.value : t.value < best.value)) best = t;
    });
    var bestRows;
    if (best) {
      bestRows = row('Trial', String(best.number) + ' (' + best.state + ')') +
                 row(objectiveName(d), fmt(best.value)) +
                 row('Parameters', paramsText(best, '<br>') || '\u2013');
      var last = best.exploits && best.exploits.length ? best.exploits[best.exploits.length - 1] :
                                                         null;
      if (last) {  // a PBT member: what it sampled (above) and what it ended with
        bestRows += row('Final parameters', paramsText({params: last.params}, '<br>') +
                        '<br><i>from its copy of trial ' + last.donor + ' at step ' + last.step +
                        '</i>');
        bestRows += row('Exploits', String(best.exploits.length));
      }
      if (best.attrs && best.attrs.test_accuracy !== undefined && best.attrs.test_accuracy !== null) {
        bestRows += row('Test accuracy', fmt(best.attrs.test_accuracy));
      }
      Object.keys(best.attrs || {}).forEach(function (k) {
        if (k !== 'test_accuracy' && k !== objectiveName(d)) bestRows += row(k, fmt(best.attrs[k]));
      });
    } else if (failureCounts(d)) {
      // Every finished trial failed: say so, with what went wrong (each message once).
      bestRows = '<tr><td colspan="2">No trial finished with a value: ' + failureCounts(d) +
                 '.</td></tr>';
      var errors = {}, order = [];
      d.trials.forEach(function (t) {
        if (FAILED_STATES.indexOf(t.state) < 0) return;
        var e = t.error || '(no message)';
        if (!(e in errors)) {
          errors[e] = [];
          order.push(e);
        }
        errors[e].push(t.number);
      });
      order.slice(0, 5).forEach(function (e) {
        var n = errors[e];
        bestRows += row(n.length === 1 ? 'Trial ' + n[0] : 'Trials ' + n.slice(0, 8).join(', ') +
                        (n.length > 8 ? ', \u2026' : ''), '<span class="reason">' + esc(e) +
                        '</span>');
      });
      if (order.length > 5) {
        bestRows += '<tr><td colspan="2">' + (order.length - 5) + ' other errors: see ' +
                    '"Failed trials".</td></tr>';
      }
    } else {
      bestRows = '<tr><td>No finished trials yet.</td></tr>';
    }

    var s = d.study;
    var created = s.created > 0 ? new Date(s.created * 1000).toLocaleString() : '\u2013';
    var settings = row('Study', esc(s.name)) +
                   row('Objective', esc(objectiveName(d)) + ' (' + esc(s.direction) + ')') +
                   row('Sampler', esc(s.sampler || '\u2013')) +
                   row('Trials asked', String(s.n_trials)) +
                   row('Created', esc(created)) +
                   row('Total compute', duration(compute)) +
                   row('Search space', '<pre>' + esc(s.space || '\u2013') + '</pre>');
    // The settings as key and value (the value decoded by krill: a multi-line value such as the
    // search space reads as lines); the space itself is shown above.
    var pairs = (s.settings || []).filter(function (kv) {
      return !(kv[0] === 'space' && kv[1] === s.space);
    });
    if (pairs.length) {
      settings += row('Settings', '<table class="settings">' + pairs.map(function (kv) {
        return '<tr><th>' + esc(kv[0]) + '</th><td><pre>' + esc(kv[1]) + '</pre></td></tr>';
      }).join('') + '</table>');
    } else if (s.config) {
      settings += row('Settings', '<pre>' + esc(s.config) + '</pre>');
    }

    document.getElementById('summary-body').innerHTML =
        '<div class="summary-grid">' +
        '<div><h3>Trials by state</h3><table>' + stateRows + '</table></div>' +
        '<div><h3>Best trial</h3><table>' + bestRows + '</table></div>' +
        '<div><h3>Study</h3><table>' + settings + '</table></div></div>';
  }

  // --- Drawing and live updates ---

  function render(d) {
    report.data = d;
    summary(d);
    tables(d);
    var containers = document.querySelectorAll('div.contours');
    for (var c = 0; c < containers.length; ++c) contourDivs(d, containers[c]);
    var elements = document.querySelectorAll('div.chart[data-kind]');
    for (var i = 0; i < elements.length; ++i) {
      var el = elements[i];
      var name = el.getAttribute('data-chart'), kind = el.getAttribute('data-kind');
      var builder = BUILDERS[kind];
      if (!builder) continue;
      var built = builder(d, el.getAttribute('data-param'));
      var chart = report.charts[name];
      if (built.empty) {
        if (chart) {
          chart.dispose();
          delete report.charts[name];
        }
        el.classList.add('empty');
        el.textContent = built.empty;
        continue;
      }
      if (built.option.tooltip) {  // long reasons wrap; the browser test finds tooltips by class
        built.option.tooltip.className = 'krill-tooltip';
        built.option.tooltip.extraCssText = 'max-width: 480px; white-space: normal;';
      }
      if (!chart) {
        el.classList.remove('empty');
        el.textContent = '';
        chart = echarts.init(el);
        report.charts[name] = chart;
        chart.setOption(built.option);
      } else {
        chart.resize();
        chart.setOption(built.option, {replaceMerge: built.replace});
      }
    }
  }

  function setStatus(text) {
    document.getElementById('status').textContent = text;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  render(report.data);
  window.addEventListener('resize', function () {
    Object.keys(report.charts).forEach(function (k) { report.charts[k].resize(); });
  });

  if (config.refresh_seconds > 0) {
    var busy = false;
    setStatus('Live: updated ' + clock(report.data.generated) + ', every ' +
              config.refresh_seconds + ' s');
    setInterval(function () {
      if (busy) return;
      busy = true;
      fetch(config.data_url, {cache: 'no-store'}).then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      }).then(function (d) {
        render(d);
        setStatus('Live: updated ' + clock(d.generated) + ', every ' + config.refresh_seconds +
                  ' s');
      }).catch(function (e) {
        setStatus('Live: the last update failed (' + e.message + '); retrying');
      }).then(function () {
        busy = false;
      });
    }, config.refresh_seconds * 1000);
  } else {
    setStatus('Generated ' + clock(report.data.generated) + ' from ' + report.data.trials.length +
              ' trials.');
  }
})();
