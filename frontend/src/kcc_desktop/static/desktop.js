// The KCC desktop: plain ES module, no build step. It talks only to the platform's public HTTP
// APIs, through the desktop server's /api/<service>/ forwarder, with the signed-in token.
// DOM is built with `h()` (text nodes, never innerHTML), so no citizen text can inject markup.

const TOKEN_KEY = "kcc.desktop.token";
const TZ = "Europe/Amsterdam"; // the municipality's time, whatever the workstation says
const CHANNELS = { telephone: "Telefoon", email: "E-mail", web: "Website", counter: "Balie", letter: "Brief", social: "Sociale media" };
const OUTCOMES = { answered_in_kcc: "Beantwoord door het KCC", forwarded: "Doorgestuurd naar afdeling", transferred: "Doorverbonden", callback: "Terugbelafspraak gemaakt" };
const DECISIONS = { answer_in_kcc: "KCC beantwoordt", warm_transfer: "Warm doorverbonden", callback: "Terugbelafspraak", forward_to_department: "Doorgestuurd" };
const STATUSES = { available: "Beschikbaar", busy: "Bezig", away: "Afwezig" };
const CALLBACK_STATUS = { requested: "Aangevraagd", scheduled: "Ingepland", attempted: "Poging gedaan", completed: "Afgerond", failed: "Mislukt", cancelled: "Geannuleerd" };
const ATTEMPTS = { reached: "Bereikt", no_answer: "Geen gehoor", voicemail: "Voicemail ingesproken", wrong_number: "Verkeerd nummer" };
const REACHABILITY = { reachable: "Nu bereikbaar", closed: "Niet bereikbaar: buiten openingstijden", nobody_present: "Niet bereikbaar: niemand aanwezig in de backoffice" };

let timers = [];
let session = null; // {token, claims}

// --- small helpers ------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit", timeZone: TZ }) : "–");
const dateTime = (iso) => (iso ? new Date(iso).toLocaleString("nl-NL", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: TZ }) : "–");
const percent = (share) => (share === null || share === undefined ? "–" : `${(share * 100).toFixed(1).replace(".", ",")}%`);
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  if (m >= 24 * 60) return `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} u`;
  return m >= 60 ? `${Math.floor(m / 60)} u ${m % 60} min` : `${m}:${String(s % 60).padStart(2, "0")}`;
}
const localDay = () => new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Amsterdam" });

function say(message) {
  const box = document.getElementById("meldingen");
  box.textContent = message;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (box.textContent = ""), 6000);
}

function every(ms, fn) {
  fn();
  timers.push(setInterval(fn, ms));
}

function stopTimers() {
  timers.forEach(clearInterval);
  timers = [];
}

// Re-rendering a live list must not throw a keyboard user's focus away: put it back on the
// element with the same data-focus key, if it is still there.
function replaceKeepingFocus(container, content) {
  const key = document.activeElement && container.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  container.replaceChildren(content);
  if (key) container.querySelector(`[data-focus="${CSS.escape(key)}"]`)?.focus();
}

// --- session ------------------------------------------------------------------------------

function decode(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("geen JWT");
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(json);
}

function loadSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return { problem: "missing" };
  try {
    const claims = decode(token);
    if (claims.exp && claims.exp * 1000 <= Date.now()) return { problem: "expired", claims };
    return { token, claims };
  } catch {
    return { problem: "invalid" };
  }
}

const roles = () => (session?.claims?.roles || []);
const departments = () => roles().filter((r) => r.startsWith("department:")).map((r) => r.slice("department:".length));
function homeFor() {
  if (roles().includes("agent")) return "#/agent";
  if (departments().length) return "#/afdeling";
  return "#/wallboard";
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function describe(detail) {
  if (!detail) return "onbekende fout";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(-1)[0] || ""}: ${d.msg}`).join("; ");
  if (detail.field) return `${detail.field}: ${detail.reason}`;
  return JSON.stringify(detail);
}

async function api(service, path, { method = "GET", body, query } = {}) {
  const url = new URL(`/api/${service}${path}`, location.origin);
  for (const [key, value] of Object.entries(query || {})) if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  const response = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${session.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = "#/sessie?reden=geweigerd";
    throw new ApiError(401, "niet aangemeld");
  }
  if (!response.ok) throw new ApiError(response.status, describe(data.detail ?? data));
  return data;
}

function errorBox(error) {
  const text = error.status === 403 ? "Je rol mag dit niet zien of doen (403)." : `Dat lukte niet: ${error.message}`;
  return h("p", { class: "error", role: "alert" }, text);
}

// --- screens --------------------------------------------------------------------------------

const main = () => document.getElementById("inhoud");

function show(title, ...content) {
  document.title = `${title} – KCC-bureaublad`;
  main().replaceChildren(h("h1", {}, title), ...content);
}

function signInScreen() {
  const field = h("textarea", { id: "token", rows: 4, autocomplete: "off", spellcheck: "false", "aria-describedby": "token-hint" });
  const problem = h("div", {});
  const form = h("form", {
    onsubmit: (event) => {
      event.preventDefault();
      signIn(field.value.trim(), problem);
    },
  },
  h("label", { for: "token" }, "Ontwikkeltoken (JWT)"),
  h("p", { class: "hint", id: "token-hint" }, "Plak een token van `make up` (.stack/local/auth/tokens/<rol>.jwt): agent, department:<id> of ops."),
  field, problem,
  h("p", {}, h("button", { type: "submit" }, "Aanmelden")));
  const quick = h("div", { class: "roles" });
  show("Aanmelden", h("section", { class: "panel" }, h("h2", {}, "Met een ontwikkeltoken"), form), h("section", { class: "panel", "aria-labelledby": "snel" }, h("h2", { id: "snel" }, "Snel aanmelden (ontwikkelomgeving)"), quick));
  fetch("/dev/tokens").then((r) => r.json()).then(({ tokens }) => {
    if (!tokens.length) quick.append(h("p", { class: "hint" }, "Geen ontwikkeltokens beschikbaar op deze server."));
    // The desktop's users: agents, departments, ops (team leads); channel systems have no screen here.
    for (const { role, token } of tokens.filter((t) => /^(agent|ops|department:)/.test(t.role))) quick.append(h("button", { type: "button", class: "secondary", onclick: () => signIn(token, problem) }, `Als ${role}`));
  }).catch(() => quick.append(h("p", { class: "hint" }, "Geen ontwikkeltokens beschikbaar.")));
}

function signIn(token, problem) {
  try {
    const claims = decode(token);
    if (claims.exp && claims.exp * 1000 <= Date.now()) {
      problem.replaceChildren(h("p", { class: "error", role: "alert" }, "Dit token is verlopen. Maak een nieuw token aan (make up) en probeer het opnieuw."));
      return;
    }
  } catch {
    problem.replaceChildren(h("p", { class: "error", role: "alert" }, "Dit is geen geldig token (verwacht: een JWT met drie delen)."));
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  session = loadSession();
  location.hash = homeFor();
}

function sessionScreen(reason) {
  const texts = {
    missing: "Je bent niet aangemeld. Meld je aan met een ontwikkeltoken om het bureaublad te gebruiken.",
    expired: "Je sessie is verlopen: je token is niet meer geldig. Meld je opnieuw aan.",
    invalid: "Het opgeslagen token is ongeldig. Meld je opnieuw aan.",
    geweigerd: "De services weigeren je token (verlopen, ingetrokken of van een andere omgeving). Meld je opnieuw aan.",
    uitgelogd: "Je bent afgemeld.",
  };
  const title = reason === "uitgelogd" ? "Afgemeld" : reason === "missing" ? "Niet aangemeld" : "Sessie verlopen";
  show(title, h("p", { class: "notice" }, texts[reason] || texts.missing), h("p", {}, h("a", { href: "#/aanmelden" }, "Naar aanmelden")));
}

// --- agent ------------------------------------------------------------------------------------

function agentScreen() {
  const agentId = session.claims.sub;
  let current = null; // {contact, entry, claimedAt, leaseUntil}
  let lastQueue = [];

  // Own status
  const statusSelect = h("select", { id: "eigen-status" }, Object.entries(STATUSES).map(([v, t]) => h("option", { value: v }, t)));
  const statusNow = h("p", { class: "hint", "aria-live": "polite" }, "Je status is nog niet doorgegeven.");
  const statusPanel = h("section", { class: "panel", "aria-labelledby": "status-kop" },
    h("h2", { id: "status-kop" }, "Mijn status"),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "eigen-status" }, "Status"), statusSelect),
      h("button", { type: "button", onclick: async () => {
        try {
          await api("routing", `/v1/agents/${encodeURIComponent(agentId)}/status`, { method: "PUT", body: { status: statusSelect.value } });
          statusNow.textContent = `Je status is ${STATUSES[statusSelect.value].toLowerCase()} (sinds ${time(new Date().toISOString())}).`;
        } catch (e) { statusNow.replaceChildren(errorBox(e)); }
      } }, "Status doorgeven")),
    statusNow);

  // Queue
  const channelFilter = h("select", { id: "kanaal" }, h("option", { value: "" }, "Alle kanalen"), Object.entries(CHANNELS).map(([v, t]) => h("option", { value: v }, t)));
  const queueBody = h("div", {});
  const queueStamp = h("p", { class: "hint" });
  const queuePanel = h("section", { class: "panel", "aria-labelledby": "wachtrij-kop" },
    h("h2", { id: "wachtrij-kop" }, "Werkvoorraad"),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "kanaal" }, "Kanaal"), channelFilter)),
    queueStamp, queueBody);
  channelFilter.addEventListener("change", () => refreshQueue());

  async function refreshQueue() {
    try {
      const data = await api("routing", "/v1/queues", { query: { channel: channelFilter.value, limit: 50 } });
      lastQueue = data.items;
      queueStamp.textContent = `${data.items.length} wachtend · bijgewerkt om ${new Date().toLocaleTimeString("nl-NL", { timeZone: TZ })}`;
      replaceKeepingFocus(queueBody, data.items.length ? h("table", {},
        h("caption", { class: "visually-hidden" }, "Contacten die op een agent wachten, hoogste prioriteit eerst"),
        h("thead", {}, h("tr", {}, ["Kanaal", "Onderwerp en product", "Prioriteit", "Wacht", "Actie"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, data.items.map((e) => h("tr", { "data-contact": e.contact_id },
          h("td", {}, CHANNELS[e.channel] || e.channel),
          h("td", {}, e.subject || "(geen onderwerp)", h("br"), h("span", { class: "hint" }, e.upl_name || "product nog onbekend")),
          h("td", {}, e.priority.toFixed(0)),
          h("td", {}, duration(e.waiting_s)),
          h("td", {}, h("button", { type: "button", "data-focus": `claim-${e.contact_id}`, "aria-label": `Oppakken: ${e.subject || e.contact_id}`, disabled: current !== null, onclick: () => claim(e) }, "Oppakken")),
        )))) : h("p", {}, "Er wacht nu niemand."));
    } catch (e) { if (e.status !== 401) queueBody.replaceChildren(errorBox(e)); }
  }

  // Work on the claimed contact
  const work = h("div", {}, h("p", {}, "Pak een contact op uit de werkvoorraad."));
  const workPanel = h("section", { class: "panel", "aria-labelledby": "werk-kop" }, h("h2", { id: "werk-kop" }, "Contact in behandeling"), work);

  async function claim(entry) {
    try {
      const claimed = await api("routing", `/v1/queues/items/${encodeURIComponent(entry.contact_id)}/claim`, { method: "POST", body: { agent_id: agentId } });
      const contact = await api("intake", `/v1/contacts/${encodeURIComponent(entry.contact_id)}`);
      current = { entry, contact, claimedAt: Date.now(), leaseUntil: claimed.lease_until };
      say(`Contact opgepakt: ${entry.subject || entry.contact_id}`);
      renderWork();
      refreshQueue();
      document.getElementById("werk-kop").focus();
    } catch (e) { say(`Oppakken lukte niet: ${e.message}`); refreshQueue(); }
  }

  // The lease is renewed while the agent works (a heartbeat well within the lease).
  timers.push(setInterval(async () => {
    if (!current) return;
    try {
      const renewed = await api("routing", `/v1/queues/items/${encodeURIComponent(current.contact.contact_id)}/lease`, { method: "POST", body: { agent_id: agentId } });
      current.leaseUntil = renewed.lease_until;
      const lease = document.getElementById("lease");
      if (lease) lease.textContent = `Geclaimd tot ${new Date(renewed.lease_until).toLocaleTimeString("nl-NL", { timeZone: TZ })} (wordt automatisch verlengd)`;
    } catch (e) { say(`Claim verlengen lukte niet: ${e.message}`); }
  }, 60000));

  function renderWork() {
    if (!current) { work.replaceChildren(h("p", {}, "Pak een contact op uit de werkvoorraad.")); return; }
    const c = current.contact;
    const id = c.contact_id;
    const facts = h("dl", { class: "facts" },
      h("dt", {}, "Kanaal"), h("dd", {}, CHANNELS[c.channel] || c.channel),
      h("dt", {}, "Ontvangen"), h("dd", {}, dateTime(c.received_at)),
      h("dt", {}, "Onderwerp"), h("dd", {}, c.subject || "–"),
      h("dt", {}, "Inhoud"), h("dd", {}, c.text || "–"),
      h("dt", {}, "Product"), h("dd", {}, current.entry.upl_name || "nog niet bepaald"),
      h("dt", {}, "Uiterlijk"), h("dd", {}, dateTime(current.entry.due_at)),
    );
    const lease = h("p", { id: "lease", class: "hint" }, `Geclaimd tot ${new Date(current.leaseUntil).toLocaleTimeString("nl-NL", { timeZone: TZ })} (wordt automatisch verlengd)`);

    // Classification suggestions
    const suggestions = h("div", { "aria-live": "polite" }, h("p", { class: "hint" }, "Suggesties worden opgehaald…"));
    api("routing", "/v1/classify", { method: "POST", body: { text: [c.subject, c.text].filter(Boolean).join("\n"), channel: c.channel, service_line: c.service_line, limit: 3 } })
      .then((found) => suggestions.replaceChildren(
        h("p", {}, `Zekerheid van de beste suggestie: ${percent(found.confidence)}${found.triage ? " (onzeker: eerst lezen)" : ""}`),
        h("ol", {}, found.products.map((p) => h("li", {}, `${p.name} – ${percent(p.score)} (afdeling ${p.department_id})`))),
      ))
      .catch((e) => suggestions.replaceChildren(errorBox(e)));

    // Kennisbank
    const q = h("input", { id: "kennisbank-vraag", type: "search", value: c.subject || "", autocomplete: "off" });
    const answers = h("div", { "aria-live": "polite" });
    const kennisbank = h("form", { role: "search", "aria-label": "Kennisbank", onsubmit: async (event) => {
      event.preventDefault();
      try {
        const found = await api("routing", "/v1/knowledge/search", { query: { q: q.value, limit: 5 } });
        answers.replaceChildren(found.items.length
          ? h("ul", { class: "plain", id: "kennisbank-resultaten" }, found.items.map((item) => h("li", {}, h("h4", {}, item.question), h("p", {}, item.answer), h("p", { class: "hint" }, `${item.upl_name} · score ${item.score.toFixed(2)}`))))
          : h("p", {}, "Geen artikelen gevonden."));
      } catch (e) { answers.replaceChildren(errorBox(e)); }
    } }, h("div", { class: "row" }, h("div", {}, h("label", { for: "kennisbank-vraag" }, "Zoek in de kennisbank")), h("button", { type: "submit" }, "Zoeken")), answers);
    kennisbank.querySelector(".row > div").append(q);

    // Citizen timeline (every look is logged)
    const idFields = [["bsn", "BSN"], ["phone", "Telefoonnummer"], ["email", "E-mailadres"]].map(([name, label]) =>
      h("div", {}, h("label", { for: `burger-${name}` }, label), h("input", { id: `burger-${name}`, name, autocomplete: "off" })));
    const reason = h("input", { id: "inzage-reden", value: `Contact ${id} in behandeling`, required: true, minlength: 3, maxlength: 200 });
    const timeline = h("div", { "aria-live": "polite" });
    const timelineForm = h("form", { onsubmit: async (event) => {
      event.preventDefault();
      const query = { reason: reason.value, page_size: 20 };
      for (const field of timelineForm.querySelectorAll("input[name]")) if (field.value.trim()) query[field.name] = field.value.trim();
      try {
        const page = await api("intake", "/v1/citizens/timeline", { query });
        timeline.replaceChildren(page.contacts.length ? h("table", { id: "tijdlijn" },
          h("caption", {}, `${page.total} contact(en) van deze inwoner, nieuwste eerst`),
          h("thead", {}, h("tr", {}, ["Wanneer", "Kanaal", "Onderwerp"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, page.contacts.map((x) => h("tr", {}, h("td", {}, dateTime(x.received_at)), h("td", {}, CHANNELS[x.channel] || x.channel), h("td", {}, x.subject || "–"))))) : h("p", {}, "Geen contacten gevonden voor deze inwoner."));
      } catch (e) { timeline.replaceChildren(errorBox(e)); }
    } }, h("div", { class: "row" }, idFields), h("label", { for: "inzage-reden" }, "Reden van inzage"), reason,
    h("p", { class: "hint" }, "Elke inzage wordt vastgelegd: wie, wanneer, welke inwoner en waarom (protocollering)."),
    h("button", { type: "submit" }, "Tijdlijn tonen"), timeline);

    // Resolve
    const outcome = h("select", { id: "uitkomst" }, h("option", { value: "answered_in_kcc" }, OUTCOMES.answered_in_kcc));
    const resolveForm = h("form", { onsubmit: async (event) => {
      event.preventDefault();
      await resolve(outcome.value);
    } }, h("label", { for: "uitkomst" }, "Uitkomst (afhandelcode)"), outcome,
    h("p", {}, h("button", { type: "submit" }, "Contact afronden")));

    // Transfer or call-back
    const department = h("select", { id: "afdeling-keuze" }, h("option", { value: "" }, "Kies een afdeling"));
    const reach = h("div", { "aria-live": "polite" });
    const transferResult = h("div", { "aria-live": "polite" });
    api("routing", "/v1/organisation").then((org) => {
      for (const d of org.departments) if (d.id !== "kcc") department.append(h("option", { value: d.id }, d.name));
    }).catch((e) => reach.replaceChildren(errorBox(e)));
    department.addEventListener("change", async () => {
      if (!department.value) { reach.replaceChildren(); return; }
      try {
        const [r, slots] = await Promise.all([
          api("routing", `/v1/organisation/departments/${department.value}/reachability`),
          api("callback", `/v1/departments/${department.value}/callbacks/free-slots`, { query: { limit: 5 } }),
        ]);
        reach.replaceChildren(
          h("p", { id: "bereikbaarheid", class: r.reachable ? "ok" : "bad" }, `${REACHABILITY[r.why] || r.reason} (${r.present} aanwezig${r.opening_hours_today.length ? `, open ${r.opening_hours_today.map((i) => `${i.opens}–${i.closes}`).join(", ")}` : ", vandaag gesloten"})`),
          r.reachable ? h("p", {}, "Overdragen kondigt het gesprek warm aan bij de backoffice.") : h("p", {}, "Overdragen maakt een terugbelafspraak in het eerste vrije moment:"),
          h("ul", { id: "vrije-momenten" }, slots.map((s) => h("li", {}, `${dateTime(s.start)}–${time(s.end)}: ${s.free} van ${s.capacity} plaatsen vrij`))),
        );
      } catch (e) { reach.replaceChildren(errorBox(e)); }
    });
    const transferForm = h("form", { onsubmit: async (event) => {
      event.preventDefault();
      if (!department.value) { transferResult.replaceChildren(h("p", { class: "error", role: "alert" }, "Kies eerst een afdeling.")); return; }
      try {
        const routed = await api("routing", `/v1/contacts/${encodeURIComponent(id)}/transfers`, { method: "POST", body: { department_id: department.value } });
        const wrapUp = { warm_transfer: "transferred", callback: "callback", forward_to_department: "forwarded", answer_in_kcc: null }[routed.decision];
        transferResult.replaceChildren(h("p", { class: "notice", id: "overdracht-uitkomst" }, `${DECISIONS[routed.decision]}: `, h("span", { lang: "en" }, routed.reason)));
        if (wrapUp) await resolve(wrapUp, DECISIONS[routed.decision], routed.reason);
      } catch (e) { transferResult.replaceChildren(errorBox(e)); }
    } }, h("label", { for: "afdeling-keuze" }, "Afdeling"), department, reach, h("p", {}, h("button", { type: "submit" }, "Overdragen aan afdeling")), transferResult);

    work.replaceChildren(facts, lease,
      h("h3", {}, "Suggesties voor het onderwerp"), suggestions,
      h("h3", {}, "Kennisbank"), kennisbank,
      h("h3", {}, "Tijdlijn van de inwoner"), timelineForm,
      h("h3", {}, "Afronden"), resolveForm,
      h("h3", {}, "Doorverbinden of terugbelafspraak"), transferForm);
  }

  async function resolve(outcome, label, why) {
    const id = current.contact.contact_id;
    try {
      await api("routing", `/v1/queues/items/${encodeURIComponent(id)}/resolve`, {
        method: "POST", body: { agent_id: agentId, outcome, handle_time_s: Math.round((Date.now() - current.claimedAt) / 1000) },
      });
      current = null;
      renderWork();
      work.prepend(h("p", { class: "notice", id: "afgerond" }, `Contact ${id} afgerond: ${label || OUTCOMES[outcome]}.`, why ? h("br") : null, why ? "Routing: " : null, why ? h("span", { lang: "en" }, why) : null));
      say(`Contact afgerond: ${label || OUTCOMES[outcome]}`);
      refreshQueue();
    } catch (e) { say(`Afronden lukte niet: ${e.message}`); }
  }

  show("Agent", h("div", { class: "grid" }, h("div", {}, statusPanel, queuePanel), h("div", {}, workPanel)));
  document.getElementById("werk-kop").setAttribute("tabindex", "-1");
  every(3000, refreshQueue);
}

// --- department -----------------------------------------------------------------------------

function departmentScreen() {
  const mine = departments();
  if (!mine.length) {
    show("Afdeling", h("p", { class: "notice" }, "Je token heeft geen afdelingsrol (department:<id>). Meld je aan met het token van een afdeling."));
    return;
  }
  const me = session.claims.sub;
  const choice = h("select", { id: "afdeling" }, mine.map((d) => h("option", { value: d }, d)));
  const presence = h("p", { class: "hint", "aria-live": "polite" });
  const due = h("div", {});
  const forwarded = h("div", {});
  const stamp = h("p", { class: "hint" });

  async function refresh() {
    const dept = choice.value;
    try {
      const [callbacks, handed] = await Promise.all([
        api("callback", `/v1/departments/${dept}/callbacks/due-today`),
        api("routing", `/v1/departments/${dept}/contacts`, { query: { limit: 50 } }),
      ]);
      const products = Object.fromEntries(handed.items.map((d) => [d.contact_id, d.upl_name]));
      stamp.textContent = `Bijgewerkt om ${new Date().toLocaleTimeString("nl-NL", { timeZone: TZ })}`;
      replaceKeepingFocus(due, callbacks.length ? h("table", { id: "terugbellen" },
        h("caption", {}, `${callbacks.length} terugbelverzoek(en) voor vandaag`),
        h("thead", {}, h("tr", {}, ["Gepland", "Uiterlijk", "Onderwerp", "Status", "Toegewezen aan", "Pogingen", "Acties"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, callbacks.map((cb) => callbackRow(cb, products[cb.contact_id])))) : h("p", {}, "Geen terugbelverzoeken voor vandaag."));
      replaceKeepingFocus(forwarded, handed.items.length ? h("table", { id: "doorgestuurd" },
        h("caption", {}, `${handed.items.length} overgedragen contact(en), nieuwste eerst`),
        h("thead", {}, h("tr", {}, ["Overgedragen", "Kanaal", "Product", "Besluit", "Uiterlijk", "Waarom"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, handed.items.map((d) => h("tr", { "data-contact": d.contact_id },
          h("td", {}, dateTime(d.routed_at)), h("td", {}, CHANNELS[d.channel] || d.channel), h("td", {}, d.upl_name || "–"),
          h("td", {}, DECISIONS[d.decision] || d.decision), h("td", {}, dateTime(d.due_at)), h("td", { lang: "en" }, d.reason))))) : h("p", {}, "Geen overgedragen contacten."));
    } catch (e) { if (e.status !== 401) due.replaceChildren(errorBox(e)); }
  }

  function callbackRow(cb, product) {
    const id = cb.callback_id;
    const outcome = h("select", { id: `poging-${id}`, "data-focus": `poging-${id}`, "aria-label": `Uitkomst poging voor ${cb.toelichting || id}` }, Object.entries(ATTEMPTS).map(([v, t]) => h("option", { value: v }, t)));
    const act = (path, body, done) => async () => {
      try {
        await api("callback", `/v1/callbacks/${encodeURIComponent(id)}/${path}`, { method: "POST", body });
        say(done);
        refresh();
      } catch (e) { say(`Dat lukte niet: ${e.message}`); }
    };
    const actors = (cb.toegewezen_aan_actoren || []).map((a) => a.id);
    const assigned = actors.join(", ");
    return h("tr", { "data-callback": id, "data-contact": cb.contact_id },
      h("td", {}, cb.slot_start ? `${time(cb.slot_start)}–${time(cb.slot_end)}` : "–"),
      h("td", {}, dateTime(cb.deadline)),
      h("td", {}, product || "–", cb.toelichting ? h("br") : null, cb.toelichting ? h("span", { class: "hint", lang: "en" }, cb.toelichting) : null),
      h("td", {}, CALLBACK_STATUS[cb.status] || cb.status, cb.at_risk ? h("span", { class: "warn" }, " (norm in gevaar)") : null),
      h("td", {}, assigned || "niemand"),
      h("td", {}, String(cb.attempts.length)),
      h("td", {},
        h("button", { type: "button", "data-focus": `claim-${id}`, disabled: actors.includes(me), onclick: act("claim", { employee_id: me }, "Terugbelverzoek opgepakt") }, "Oppakken"), " ",
        outcome, " ",
        h("button", { type: "button", "data-focus": `attempt-${id}`, onclick: () => act("attempts", { agent_id: me, outcome: outcome.value }, `Poging vastgelegd: ${ATTEMPTS[outcome.value]}`)() }, "Poging vastleggen"), " ",
        h("button", { type: "button", "data-focus": `complete-${id}`, onclick: act("complete", { agent_id: me }, "Terugbelverzoek afgerond") }, "Afronden")),
    );
  }

  const presenceButton = h("button", { type: "button", onclick: async () => {
    try {
      const p = await api("routing", `/v1/presence/${choice.value}`, { method: "PUT", body: { agents: [me] } });
      presence.textContent = `Aanwezig gemeld tot ${time(p.expires_at)}: warme doorverbindingen zijn nu mogelijk.`;
    } catch (e) { presence.replaceChildren(errorBox(e)); }
  } }, "Ik ben aanwezig in de backoffice");
  choice.addEventListener("change", refresh);
  show("Afdeling",
    h("div", { class: "row" }, h("div", {}, h("label", { for: "afdeling" }, "Afdeling"), choice), presenceButton), presence, stamp,
    h("section", { class: "panel", "aria-labelledby": "tb-kop" }, h("h2", { id: "tb-kop" }, "Terugbelverzoeken vandaag"), due),
    h("section", { class: "panel", "aria-labelledby": "dg-kop" }, h("h2", { id: "dg-kop" }, "Overgedragen contacten met hun termijn"), forwarded));
  every(5000, refresh);
}

// --- wallboard ------------------------------------------------------------------------------

function wallboardScreen() {
  const tiles = h("div", { class: "tiles" });
  const queues = h("div", {});
  const stamp = h("p", { class: "hint", "aria-live": "polite" });
  const tile = (id, label, value, sub, tone) => h("div", { class: "tile", id }, h("p", { class: "label" }, label), h("p", { class: `value ${tone || ""}` }, value), sub ? h("p", { class: "sub" }, sub) : null);

  async function refresh() {
    try {
      const day = localDay();
      const [now, norms] = await Promise.all([
        api("metrics", "/v1/realtime"),
        api("metrics", "/v1/service-norms", { query: { from: day, to: day } }),
      ]);
      const kpi = (name, channel) => norms.kpis.find((k) => k.name === name && (!channel || k.channel === channel));
      const level = kpi("service_level_abandoned_short_met", "telephone");
      const resolvedCount = kpi("resolved_in_kcc", "all")?.counts?.answered_in_kcc ?? 0;
      const waiting = now.queues.reduce((n, q) => n + q.waiting, 0);
      const oldest = Math.max(0, ...now.queues.map((q) => q.oldest_waiting_s || 0));
      const levelTone = level?.met === false ? "bad" : level?.met ? "ok" : "";
      tiles.replaceChildren(
        tile("tegel-servicelevel", "Servicelevel telefoon vandaag", percent(level?.value), level?.norm ? `norm ≥ ${percent(level.norm.target)} binnen de wachttijd` : "nog geen gesprekken", levelTone),
        tile("tegel-wachtend", "Wachtend nu", String(waiting), `${now.queues.filter((q) => q.waiting).length} wachtrij(en)`),
        tile("tegel-langste", "Langste wachttijd", duration(oldest || null), "min:sec"),
        tile("tegel-agenten", "Agenten beschikbaar", String(now.agents_available)),
        tile("tegel-te-laat", "Terugbelverzoeken te laat", String(now.callbacks_overdue), `${now.callbacks_due_today} nog vandaag`, now.callbacks_overdue ? "bad" : "ok"),
        tile("tegel-opgelost", "In het KCC beantwoord vandaag", String(resolvedCount)),
      );
      queues.replaceChildren(now.queues.length ? h("table", {},
        h("caption", {}, "Wachtrijen nu"),
        h("thead", {}, h("tr", {}, ["Wachtrij", "Wachtend", "Langste wachttijd"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, now.queues.map((q) => h("tr", {}, h("td", {}, q.queue), h("td", {}, String(q.waiting)), h("td", {}, duration(q.oldest_waiting_s)))))) : h("p", {}, "Geen wachtrijen."));
      stamp.textContent = `Live: elke 5 seconden bijgewerkt, laatst om ${new Date(now.at).toLocaleTimeString("nl-NL", { timeZone: TZ })}`;
    } catch (e) { if (e.status !== 401) tiles.replaceChildren(errorBox(e)); }
  }
  show("Wallboard", stamp, tiles, h("section", { class: "panel", "aria-label": "Wachtrijen" }, queues));
  every(5000, refresh);
}

// --- protocollering (ops) -------------------------------------------------------------------

function accessLogScreen() {
  const viewer = h("input", { id: "kijker", autocomplete: "off" });
  const list = h("div", { "aria-live": "polite" });
  async function load() {
    try {
      const page = await api("intake", "/v1/access-log", { query: { viewer: viewer.value.trim(), limit: 100 } });
      list.replaceChildren(page.items.length ? h("table", { id: "inzages" },
        h("caption", {}, `${page.items.length} inzage(s) van tijdlijnen, nieuwste eerst`),
        h("thead", {}, h("tr", {}, ["Wanneer", "Wie", "Inwoner", "Reden", "Getoond"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, page.items.map((v) => h("tr", {}, h("td", {}, dateTime(v.at)), h("td", {}, v.viewer),
          h("td", {}, Object.entries(v.citizen_shown).map(([k, x]) => `${k} ${x}`).join(", ")), h("td", {}, v.reason), h("td", {}, `${v.contacts_shown} contact(en)`))))) : h("p", {}, "Geen inzages gevonden."));
    } catch (e) { list.replaceChildren(errorBox(e)); }
  }
  show("Protocollering", h("p", {}, "Wie keek wanneer naar de tijdlijn van welke inwoner, en waarom."),
    h("form", { onsubmit: (event) => { event.preventDefault(); load(); } },
      h("div", { class: "row" }, h("div", {}, h("label", { for: "kijker" }, "Alleen van medewerker (token-subject)"), viewer), h("button", { type: "submit" }, "Zoeken"))),
    list);
  load();
}

// --- routing --------------------------------------------------------------------------------

const SCREENS = { "#/agent": agentScreen, "#/afdeling": departmentScreen, "#/wallboard": wallboardScreen, "#/protocollering": accessLogScreen };

function route() {
  stopTimers();
  const [path, query] = (location.hash || "#/").split("?");
  const reason = new URLSearchParams(query || "").get("reden");
  session = loadSession();
  const signedIn = !session.problem;
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("signout").hidden = !signedIn;
  document.getElementById("who").textContent = signedIn ? `Aangemeld als ${session.claims.sub} (${roles().join(", ")})` : "";
  const nav = document.querySelector("#nav ul");
  if (signedIn && !nav.querySelector('[data-screen="protocollering"]') && roles().includes("ops")) {
    nav.append(h("li", {}, h("a", { href: "#/protocollering", "data-screen": "protocollering" }, "Protocollering")));
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (path === "#/aanmelden") return signInScreen();
  if (path === "#/sessie") return sessionScreen(reason || session.problem || "missing");
  if (!signedIn) return sessionScreen(session.problem);
  const screen = SCREENS[path];
  if (!screen) { location.hash = homeFor(); return; }
  screen();
  main().focus();
}

document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = "#/sessie?reden=uitgelogd";
});
window.addEventListener("hashchange", route);
route();
