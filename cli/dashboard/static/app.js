// The dashboard page: plain JavaScript, no build step, nothing loaded from anywhere but this
// server. Everything the server sends is data and goes on the page as text (text nodes,
// textContent, attributes), never through innerHTML: a payload or an error message that holds
// markup shows as that markup, it does not become it.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SVG = 'http://www.w3.org/2000/svg';
/** The API's limits: dead letters per page, and per redrive or purge call. */
const MAX_PAGE = 500;
const MAX_BULK = 1000;
/** Groups with the most backlog shown per queue (the API lists up to 100). */
const GROUPS_SHOWN = 20;

const state = {
  /** The last answer of /api/overview. */
  overview: undefined,
  /** The queue whose dead letters are shown. */
  queue: undefined,
  dead: { queue: undefined, messages: [], next: undefined },
  /** Ids of dead letters ticked on the page. */
  selected: new Set(),
  /** The group lists of the queues with per-group limits (GET /api/queues/{queue}/groups), in the overview's order. */
  groups: [],
  /** The group whose limits the dialog edits: { queue, groupKey }. */
  editing: undefined,
  /** The message being looked at: { id } or { queue, dedupKey }; looked up again on each refresh. */
  lookup: undefined,
  refreshing: false,
  timer: undefined,
};

const $ = (id) => document.getElementById(id);

/** An element with attributes (`on…` are listeners) and children; strings become text nodes. */
function el(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

function svg(tag, props = {}, ...children) {
  return build(document.createElementNS(SVG, tag), props, children);
}

function build(node, props, children) {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null && child !== false));
  return node;
}

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => undefined);
  if (!response.ok) throw new ApiError(data?.error?.message ?? `${response.status} ${response.statusText}`, response.status);
  return data;
}

// --- formatting --------------------------------------------------------------------------

const count = (n) => Number(n).toLocaleString('en-US');
const plural = (n, one, many = `${one}s`) => (n === 1 ? one : many);

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Queue-wide limits hold across every drain run together; per-run ones bound each run on its own. */
function limitsText(limits, permitsInUse) {
  const inUse = (kind) => (permitsInUse?.[kind] === undefined ? '' : ` (${count(permitsInUse[kind])} in use)`);
  const perRun = [`${limits.drainConcurrency} at once`, limits.drainRatePerSecond === null ? undefined : `${limits.drainRatePerSecond}/s`]
    .filter(Boolean)
    .join(', ');
  return [
    limits.fifo ? 'FIFO' : undefined,
    limits.types === null ? undefined : `carries ${limits.types.join(', ')}`,
    `batch ${limits.batchSize}`,
    limits.concurrency === null ? undefined : `${limits.concurrency} at once queue-wide${inUse('run')}`,
    limits.ratePerSecond === null ? 'no rate limit' : `${limits.ratePerSecond}/s queue-wide${inUse('rate')}`,
    `per run ${perRun}`,
    limits.groups === null ? undefined : `per group ${perGroupText(limits.groups)}`,
    `lease ${limits.leaseSeconds} s`,
    `${limits.maxAttempts} ${plural(limits.maxAttempts, 'attempt')}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** A queue's declared per-group limits. */
function perGroupText(declared) {
  return [
    declared.concurrency === null ? undefined : `${declared.concurrency} at once`,
    declared.ratePerSecond === null ? undefined : `${declared.ratePerSecond}/s`,
    declared.fair ? 'fair share' : undefined,
  ]
    .filter(Boolean)
    .join(', ');
}

/** A FIFO queue's groups: live, with a message in flight, and blocked (the head is retrying). */
function groupsCell(groups, grouped) {
  if (grouped) return el('td', { class: 'groups' }, el('a', { href: '#groups-section' }, 'per-group limits'));
  if (groups === undefined) return el('td', { class: 'groups muted' }, '–');
  const title = `${count(groups.live)} live ${plural(groups.live, 'group')}: ${count(groups.inFlight)} with a message in flight, ${count(groups.blocked)} blocked (its first message is waiting to retry, holding the rest of the group back)`;
  return el(
    'td',
    { class: 'groups', title },
    `${count(groups.live)} · ${count(groups.inFlight)} running · `,
    el('span', { class: `blocked${groups.blocked > 0 ? ' alert' : ''}` }, `${count(groups.blocked)} blocked`),
  );
}

function serverNow() {
  return state.overview ? Date.parse(state.overview.at) : Date.now();
}

// --- messages to the operator --------------------------------------------------------------

function showProblem(text) {
  $('problem').hidden = text === undefined;
  $('problem').textContent = text ?? '';
}

let noticeTimer;
function notice(text) {
  clearTimeout(noticeTimer);
  $('notice').textContent = text;
  $('notice').hidden = false;
  noticeTimer = setTimeout(() => ($('notice').hidden = true), 8000);
}

/** Resolves true when the operator confirms; the OK button says what will happen. */
function confirmDialog(text, okLabel) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  $('confirm-ok').onclick = () => dialog.close('ok');
  $('confirm-cancel').onclick = () => dialog.close('cancel');
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

// --- queues ---------------------------------------------------------------------------------

/** 60 stacked bars, one a minute: done, retried, dead. Drawn by hand; see server.ts for why. */
function throughputChart(t, sinceIso) {
  const width = 180;
  const height = 34;
  const minutes = t.done.length;
  const step = width / minutes;
  const totals = t.done.map((done, i) => done + t.retried[i] + t.dead[i]);
  const peak = Math.max(1, ...totals);
  const sum = (series) => series.reduce((a, b) => a + b, 0);
  const summary = `since ${new Date(sinceIso).toLocaleTimeString()}: ${count(sum(t.done))} done, ${count(sum(t.retried))} retried, ${count(sum(t.dead))} dead; busiest minute ${count(Math.max(...totals))}`;
  const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': summary }, svg('title', {}, summary));
  for (let i = 0; i < minutes; i++) {
    let top = height;
    for (const [series, kind] of [
      [t.done, 'done'],
      [t.retried, 'retried'],
      [t.dead, 'dead'],
    ]) {
      if (series[i] === 0) continue;
      const h = Math.max(1, (series[i] / peak) * (height - 1));
      top -= h;
      chart.append(
        svg('rect', { x: (i * step).toFixed(2), y: top.toFixed(2), width: Math.max(0.5, step - 0.6).toFixed(2), height: h.toFixed(2), class: kind }),
      );
    }
  }
  chart.append(svg('line', { x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5, class: 'axis' }));
  return chart;
}

function renderOverview() {
  const { overview } = state;
  $('target').textContent = overview.target;
  const rows = overview.queues.map((q) => {
    const sum = (series) => series.reduce((a, b) => a + b, 0);
    return el(
      'tr',
      { dataset: { queue: q.queue }, class: q.queue === state.queue ? 'selected' : undefined },
      el(
        'th',
        { scope: 'row' },
        el(
          'button',
          {
            type: 'button',
            class: 'link',
            onclick: () => selectQueue(q.queue).catch((error) => showProblem(`Could not load the dead letters of ${q.queue}: ${error.message}`)),
          },
          q.queue,
        ),
      ),
      el('td', { class: 'num waiting' }, count(q.counts.waiting)),
      el('td', { class: 'num running' }, count(q.counts.running)),
      el('td', { class: 'num retrying' }, count(q.counts.retrying)),
      el('td', { class: 'num delayed' }, count(q.delayed)),
      el('td', { class: `num dead${q.counts.dead > 0 ? ' alert' : ''}` }, count(q.counts.dead)),
      el('td', { class: 'num oldest' }, q.oldestDueAgeSeconds > 0 ? duration(q.oldestDueAgeSeconds) : '–'),
      groupsCell(q.groups, q.limits.groups !== null),
      el(
        'td',
        { class: 'throughput' },
        el(
          'span',
          { class: 'chart-cell' },
          throughputChart(q.throughput, overview.throughputSince),
          el('span', { class: 'muted small' }, `${count(sum(q.throughput.done))} done`),
        ),
      ),
      el('td', { class: 'limits muted small' }, limitsText(q.limits, q.permitsInUse)),
      el(
        'td',
        { class: 'state' },
        el('span', { class: `badge ${q.paused ? 'paused' : 'active'}` }, q.paused ? 'paused' : 'active'),
        el('button', { type: 'button', class: 'small-button', onclick: () => setPaused(q.queue, !q.paused) }, q.paused ? 'Resume' : 'Pause'),
      ),
    );
  });
  $('queues').tBodies[0].replaceChildren(...rows);

  // The declared queues do not change while the server runs: filled once, so an open list stays open.
  const select = $('lookup-queue');
  if (select.options.length === 0) select.append(...overview.queues.map((q) => el('option', { value: q.queue, selected: q.queue === state.queue }, q.queue)));
}

// --- recurring messages ----------------------------------------------------------------------

/** The config's recurring entries, read-only; the section shows only when there are some. */
function renderRecurring() {
  const entries = state.overview.recurring ?? [];
  $('recurring-section').hidden = entries.length === 0;
  const now = serverNow();
  $('recurring').tBodies[0].replaceChildren(
    ...entries.map((r) =>
      el(
        'tr',
        { dataset: { name: r.name } },
        el('th', { scope: 'row', class: 'name' }, r.name),
        el('td', { class: 'schedule mono' }, r.schedule),
        el('td', { class: 'timezone' }, r.timezone),
        el('td', { class: 'queue' }, r.queue),
        el('td', { class: 'type' }, r.type),
        el('td', { class: 'num catch-up' }, String(r.catchUp)),
        el(
          'td',
          { class: 'last-slot' },
          r.lastSlot === null
            ? '–'
            : el(
                'button',
                {
                  type: 'button',
                  class: 'link',
                  title: `look up ${r.lastSlotDedupKey} in ${r.queue}`,
                  onclick: () =>
                    showMessage({ queue: r.queue, dedupKey: r.lastSlotDedupKey }).catch((error) =>
                      showProblem(`Could not look the message up: ${error.message}`),
                    ),
                },
                `${r.lastSlot} (${duration((now - Date.parse(r.lastSlot)) / 1000)} ago)`,
              ),
        ),
        el('td', { class: 'next-slot' }, r.nextSlot === null ? 'none (no slot left)' : `${r.nextSlot} (in ${duration((Date.parse(r.nextSlot) - now) / 1000)})`),
      ),
    ),
  );
}

async function setPaused(queue, paused) {
  try {
    await api('POST', `/api/queues/${encodeURIComponent(queue)}/${paused ? 'pause' : 'resume'}`, {});
    notice(paused ? `Paused ${queue}: drain runs leave it alone until it is resumed.` : `Resumed ${queue}.`);
    await refresh();
  } catch (error) {
    showProblem(`Could not ${paused ? 'pause' : 'resume'} ${queue}: ${error.message}`);
  }
}

// --- groups ------------------------------------------------------------------------------------

const groupPath = (queue, groupKey, action) => `/api/queues/${encodeURIComponent(queue)}/groups/${encodeURIComponent(groupKey)}/${action}`;

async function loadGroups() {
  const grouped = state.overview.queues.filter((q) => q.limits.groups !== null);
  state.groups = await Promise.all(grouped.map((q) => api('GET', `/api/queues/${encodeURIComponent(q.queue)}/groups?limit=${GROUPS_SHOWN}`)));
  renderGroups();
}

/** The most backlog first, then the groups paused or with limits of their own that are not among them. */
function groupsShown(list) {
  const top = new Set(list.top.map((g) => g.groupKey));
  return [...list.top, ...list.set.filter((g) => !top.has(g.groupKey))];
}

/** A limit as text: the value with its unit, or none. */
function limitText(value, unit) {
  return value === null ? 'none' : `${value}${unit}`;
}

/** A limit that applies, and whether it is the group's own. */
function limitCell(kind, value, own, unit) {
  const text = limitText(value, unit);
  return el('td', { class: `num ${kind}`, title: own ? "the group's own" : "the queue's" }, own ? el('strong', {}, text) : text);
}

function renderGroups() {
  $('groups-section').hidden = state.groups.length === 0;
  $('groups').replaceChildren(
    ...state.groups.map((list) => {
      const groups = groupsShown(list);
      const declared = perGroupText(list.declared);
      return el(
        'div',
        { class: 'group-panel', dataset: { queue: list.queue } },
        el('h3', {}, `${list.queue} `, el('span', { class: 'muted small' }, declared === '' ? 'no per-group limit declared' : `per group ${declared}`)),
        groups.length === 0
          ? el('p', { class: 'muted empty' }, 'No group has unfinished messages, is paused or has limits of its own.')
          : el(
              'div',
              { class: 'scroll' },
              el(
                'table',
                {},
                el(
                  'thead',
                  {},
                  el(
                    'tr',
                    {},
                    el('th', { scope: 'col' }, 'group'),
                    el('th', { scope: 'col', class: 'num' }, 'unfinished'),
                    el('th', { scope: 'col', class: 'num' }, 'running'),
                    el('th', { scope: 'col', class: 'num', title: "bold: the group's own" }, 'concurrency'),
                    el('th', { scope: 'col', class: 'num', title: "bold: the group's own" }, 'rate'),
                    el('th', { scope: 'col' }, 'state'),
                    el('th', { scope: 'col' }, ''),
                  ),
                ),
                el(
                  'tbody',
                  {},
                  groups.map((g) => groupRow(list.queue, g)),
                ),
              ),
            ),
      );
    }),
  );
}

function groupRow(queue, g) {
  return el(
    'tr',
    { dataset: { groupKey: g.groupKey } },
    el('th', { scope: 'row', class: 'group-key mono', title: g.groupKey }, g.groupKey),
    el('td', { class: 'num unfinished' }, count(g.unfinished)),
    el('td', { class: 'num running' }, count(g.running)),
    limitCell('concurrency', g.concurrency, g.overridden.concurrency, ''),
    limitCell('rate', g.ratePerSecond, g.overridden.ratePerSecond, '/s'),
    el('td', { class: 'state' }, el('span', { class: `badge group-${g.state}` }, g.state)),
    el(
      'td',
      { class: 'actions' },
      el('button', { type: 'button', class: 'small-button pause', onclick: () => setGroupPaused(queue, g.groupKey, !g.paused) }, g.paused ? 'Resume' : 'Pause'),
      el('button', { type: 'button', class: 'small-button limits', onclick: () => editGroupLimits(queue, g) }, 'Limits…'),
    ),
  );
}

async function setGroupPaused(queue, groupKey, paused) {
  try {
    await api('POST', groupPath(queue, groupKey, paused ? 'pause' : 'resume'), {});
    notice(
      paused
        ? `Paused group ${groupKey} of ${queue}: drains start none of its messages until it is resumed; its other groups run.`
        : `Resumed group ${groupKey} of ${queue}.`,
    );
    await refresh();
  } catch (error) {
    showProblem(`Could not ${paused ? 'pause' : 'resume'} group ${groupKey} of ${queue}: ${error.message}`);
  }
}

/** Opens the limits dialog on a group: its own limits filled in, the queue's as placeholders. */
function editGroupLimits(queue, g) {
  const declared = state.groups.find((list) => list.queue === queue)?.declared;
  state.editing = { queue, groupKey: g.groupKey };
  $('group-limits-title').textContent = `Limits of group ${g.groupKey} of ${queue}`;
  for (const [input, kind] of [
    [$('group-concurrency'), 'concurrency'],
    [$('group-rate'), 'ratePerSecond'],
  ]) {
    input.value = g.overridden[kind] ? String(g[kind]) : '';
    input.placeholder = declared?.[kind] == null ? 'none' : `queue's: ${declared[kind]}`;
  }
  $('group-limits-problem').hidden = true;
  $('group-limits').showModal();
}

/** An input's number, null when empty (the queue's limit back); what is not a number is refused here. */
function limitValue(input, name) {
  if (input.validity.badInput) throw new Error(`${name}: must be a number`);
  return input.value.trim() === '' ? null : Number(input.value);
}

async function saveGroupLimits(event) {
  event.preventDefault();
  const { queue, groupKey } = state.editing;
  const problem = $('group-limits-problem');
  try {
    const change = { concurrency: limitValue($('group-concurrency'), 'concurrency'), ratePerSecond: limitValue($('group-rate'), 'ratePerSecond') };
    const group = await api('PUT', groupPath(queue, groupKey, 'limits'), change);
    $('group-limits').close();
    notice(`Group ${groupKey} of ${queue}: concurrency ${limitText(group.concurrency, '')}, rate ${limitText(group.ratePerSecond, '/s')}.`);
    await refresh();
  } catch (error) {
    // The dialog stays open with the refusal (it names the field), so the value can be fixed.
    problem.textContent = error.message;
    problem.hidden = false;
  }
}

// --- dead letters -----------------------------------------------------------------------------

function deadCount(queue) {
  return state.overview?.queues.find((q) => q.queue === queue)?.counts.dead ?? 0;
}

async function selectQueue(queue) {
  state.queue = queue;
  state.selected.clear();
  history.replaceState(null, '', `#queue=${encodeURIComponent(queue)}`);
  renderOverview();
  await loadDead();
}

/** The queue's dead letters from the first; a refresh reloads as many as were shown. */
async function loadDead() {
  const queue = state.queue;
  const shown = state.dead.queue === queue ? state.dead.messages.length : 0;
  const limit = Math.min(MAX_PAGE, Math.max(50, shown));
  const page = await api('GET', `/api/queues/${encodeURIComponent(queue)}/dead?limit=${limit}`);
  if (state.queue !== queue) return;
  state.dead = { queue, messages: page.messages, next: page.next };
  const ids = new Set(page.messages.map((m) => m.id));
  for (const id of state.selected) if (!ids.has(id)) state.selected.delete(id);
  renderDead();
}

async function loadMoreDead() {
  const { queue, next } = state.dead;
  const page = await api('GET', `/api/queues/${encodeURIComponent(queue)}/dead?limit=50&after=${encodeURIComponent(next)}`);
  if (state.dead.queue !== queue) return;
  state.dead = { queue, messages: [...state.dead.messages, ...page.messages], next: page.next };
  renderDead();
}

function renderDead() {
  const { queue, messages, next } = state.dead;
  $('dead').hidden = false;
  const total = deadCount(queue);
  $('dead-title').textContent = `Dead letters of ${queue} (${count(total)})`;
  const now = serverNow();
  $('dead-letters').tBodies[0].replaceChildren(
    ...messages.map((m) =>
      el(
        'tr',
        { dataset: { id: m.id } },
        el(
          'td',
          {},
          el('input', {
            type: 'checkbox',
            checked: state.selected.has(m.id),
            'aria-label': `select ${m.id}`,
            onchange: (event) => toggle(m.id, event.target.checked),
          }),
        ),
        el('td', { class: 'id' }, el('button', { type: 'button', class: 'link mono', onclick: () => showMessage({ id: m.id }) }, m.id)),
        el('td', { class: 'type' }, m.type),
        el('td', { class: 'num' }, `${m.attempts}/${m.maxAttempts}`),
        el('td', { class: 'num' }, m.finishedAt ? duration((now - Date.parse(m.finishedAt)) / 1000) : '–'),
        el('td', { class: 'error', title: m.lastError ?? '' }, m.lastError ?? ''),
      ),
    ),
  );
  $('dead-empty').hidden = messages.length > 0;
  $('dead-more').hidden = next === undefined;
  renderSelection();
}

function toggle(id, on) {
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  renderSelection();
}

function renderSelection() {
  const n = state.selected.size;
  const total = deadCount(state.dead.queue);
  const shown = state.dead.messages.length;
  const page = $('select-page');
  page.checked = shown > 0 && n === shown;
  page.indeterminate = n > 0 && n < shown;
  $('redrive-selected').textContent = `Redrive selected (${count(n)})`;
  $('purge-selected').textContent = `Purge selected (${count(n)})`;
  $('redrive-selected').disabled = $('purge-selected').disabled = n === 0;
  $('redrive-all').textContent = `Redrive all (${count(total)})`;
  $('purge-all').textContent = `Purge all (${count(total)})`;
  $('redrive-all').disabled = $('purge-all').disabled = total === 0;
}

/** Redrive or purge the ticked dead letters, or all of the queue's, after a confirmation that says how many. */
async function bulk(action, scope) {
  const queue = state.dead.queue;
  const ids = scope === 'selected' ? [...state.selected] : undefined;
  const n = ids ? ids.length : deadCount(queue);
  const what = `${scope === 'all' ? 'all ' : ''}${count(n)} dead ${plural(n, 'letter')} of ${queue}`;
  const question = action === 'redrive' ? `Redrive ${what}? They go back to waiting with their attempts reset.` : `Purge ${what}? They are deleted for good.`;
  if (!(await confirmDialog(question, `${action === 'redrive' ? 'Redrive' : 'Purge'} ${count(n)}`))) return;

  const call = (body) =>
    action === 'redrive'
      ? api('POST', `/api/queues/${encodeURIComponent(queue)}/redrive`, body).then((r) => ({ count: r.redriven, more: r.more, notCarried: r.notCarried }))
      : api('DELETE', `/api/queues/${encodeURIComponent(queue)}/dead`, body).then((r) => ({ count: r.purged, more: r.more, notCarried: 0 }));
  let done = 0;
  // Dead letters a redrive left: their type is not one the queue carries (or has no handler).
  let left = 0;
  try {
    if (ids) {
      for (let i = 0; i < ids.length; i += MAX_BULK) {
        const result = await call({ ids: ids.slice(i, i + MAX_BULK) });
        done += result.count;
        left += result.notCarried;
      }
    } else {
      // At most 1,000 per call, so no statement holds locks for long; "more" says call again.
      for (;;) {
        const result = await call(action === 'redrive' ? {} : { all: true });
        done += result.count;
        left = result.notCarried;
        if (!result.more || result.count === 0) break;
      }
    }
    const leftNote =
      left > 0 ? ` ${count(left)} left dead: ${left === 1 ? 'its type is' : 'their types are'} not carried by ${queue} or without a handler.` : '';
    notice(`${action === 'redrive' ? 'Redrove' : 'Purged'} ${count(done)} dead ${plural(done, 'letter')} of ${queue}.${leftNote}`);
  } catch (error) {
    showProblem(`${action === 'redrive' ? 'Redrive' : 'Purge'} stopped after ${count(done)}: ${error.message}`);
  }
  state.selected.clear();
  await refresh();
}

// --- one message --------------------------------------------------------------------------------

async function showMessage(lookup) {
  state.lookup = lookup;
  $('lookup-key').value = lookup.id ?? lookup.dedupKey;
  if (lookup.queue) $('lookup-queue').value = lookup.queue;
  await lookUp();
  $('message').scrollIntoView({ block: 'nearest' });
}

async function lookUp() {
  const lookup = state.lookup;
  const path = lookup.id
    ? `/api/messages/${encodeURIComponent(lookup.id)}`
    : `/api/queues/${encodeURIComponent(lookup.queue)}/messages?${new URLSearchParams({ dedupKey: lookup.dedupKey })}`;
  let message;
  try {
    message = await api('GET', path);
  } catch (error) {
    if (state.lookup !== lookup) return;
    if (!(error instanceof ApiError) || error.status >= 500) throw error;
    $('message').hidden = false;
    $('message-fields').replaceChildren(el('dt', {}, 'not found'), el('dd', {}, error.message));
    $('message-error').textContent = '';
    $('message-result').textContent = '';
    $('message-payload').textContent = '';
    return;
  }
  if (state.lookup !== lookup) return;
  const fields = [
    ['id', message.id],
    ['queue', message.queue],
    ['type', message.type],
    ['status', el('span', { class: `badge status-${message.status}`, id: 'message-status' }, message.status)],
    ['attempts', `${message.attempts} of ${message.maxAttempts}`],
    ['priority', String(message.priority)],
    ['available at', message.availableAt],
    ['created at', message.createdAt],
    ['updated at', message.updatedAt],
    ['finished at', message.finishedAt ?? '–'],
    ['dedup key', message.dedupKey ?? '–'],
    // Only when the producer sent a trace context: the id to look the producer's trace up by.
    message.traceId === undefined ? undefined : ['trace', el('span', { class: 'mono', id: 'message-trace' }, message.traceId)],
    // The handler's latest context.progress, and when it was written.
    message.progressAt === undefined
      ? undefined
      : ['progress', el('span', { class: 'mono', id: 'message-progress' }, `${JSON.stringify(message.progress)} at ${message.progressAt}`)],
  ].filter(Boolean);
  $('message').hidden = false;
  $('message-fields').replaceChildren(...fields.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
  $('message-error').textContent = message.lastError ?? '–';
  $('message-result').textContent = message.result === undefined ? '–' : JSON.stringify(message.result, null, 2);
  $('message-payload').textContent = JSON.stringify(message.payload, null, 2);
  // Waiting or retrying: cancelled at once; running: its drain is asked to stop it.
  const cancel = $('message-cancel');
  cancel.hidden = !CANCELLABLE.has(message.status);
  cancel.onclick = () => cancelShown(message);
}

const CANCELLABLE = new Set(['waiting', 'retrying', 'running']);

/** Cancels the message shown, after a confirmation that says what a cancel does to it in its status. */
async function cancelShown(message) {
  const question =
    message.status === 'running'
      ? `Cancel message ${message.id}? It is running: its drain stops its handler within about a second, and it ends cancelled unless its handler finishes first.`
      : `Cancel message ${message.id}? It is ${message.status}: it ends cancelled and never runs.`;
  if (!(await confirmDialog(question, 'Cancel message'))) return;
  try {
    const answer = await api('DELETE', `/api/messages/${encodeURIComponent(message.id)}`, {});
    notice(answer.cancelRequested ? `Cancel requested: ${message.id} is running; its drain stops it.` : `Cancelled ${message.id}.`);
  } catch (error) {
    showProblem(`Cancel refused: ${error.message}`);
  }
  await refresh();
}

// --- refresh --------------------------------------------------------------------------------------

async function refresh() {
  if (state.refreshing) return;
  state.refreshing = true;
  clearTimeout(state.timer);
  try {
    state.overview = await api('GET', '/api/overview');
    if (state.queue === undefined) state.queue = initialQueue();
    renderOverview();
    renderRecurring();
    await loadGroups();
    if (state.queue !== undefined) await loadDead();
    if (state.lookup !== undefined) await lookUp();
    $('refreshed').textContent = `updated ${new Date().toLocaleTimeString()}`;
    showProblem(undefined);
  } catch (error) {
    showProblem(`Could not refresh: ${error.message}. Trying again in ${state.overview?.refreshSeconds ?? 5} s.`);
  } finally {
    state.refreshing = false;
    state.timer = setTimeout(refresh, (state.overview?.refreshSeconds ?? 5) * 1000);
  }
}

/** The queue named in the address (#queue=sms), else the first with dead letters. */
function initialQueue() {
  const queues = state.overview.queues;
  const named = /^#queue=(.+)$/.exec(location.hash);
  if (named) {
    const queue = decodeURIComponent(named[1]);
    if (queues.some((q) => q.queue === queue)) return queue;
  }
  return queues.find((q) => q.counts.dead > 0)?.queue;
}

$('select-page').addEventListener('change', (event) => {
  for (const m of state.dead.messages) {
    if (event.target.checked) state.selected.add(m.id);
    else state.selected.delete(m.id);
  }
  renderDead();
});
$('redrive-selected').addEventListener('click', () => bulk('redrive', 'selected'));
$('purge-selected').addEventListener('click', () => bulk('purge', 'selected'));
$('redrive-all').addEventListener('click', () => bulk('redrive', 'all'));
$('purge-all').addEventListener('click', () => bulk('purge', 'all'));
$('dead-more').addEventListener('click', () => loadMoreDead().catch((error) => showProblem(`Could not load more: ${error.message}`)));
$('group-limits-form').addEventListener('submit', saveGroupLimits);
$('group-limits-cancel').addEventListener('click', () => $('group-limits').close());
$('lookup').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('lookup-key').value;
  const lookup = UUID.test(key.trim()) ? { id: key.trim().toLowerCase() } : { queue: $('lookup-queue').value, dedupKey: key };
  showMessage(lookup).catch((error) => showProblem(`Could not look the message up: ${error.message}`));
});

refresh();
