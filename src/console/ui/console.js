// The scimd admin console, drawn in the browser from the admin API (/admin/api). Preact and htm, loaded as ES
// modules from scimd itself; no build step, no inline script or style (the Content-Security-Policy forbids them).
// Where the pages and the API are (below an embedding application's mount, perhaps) the shell says.
import { h, render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const { api: API, base: BASE } = document.getElementById('app').dataset;

/** The identity providers a token can be made for, as the IdPs name themselves, and scimd's dialect for each. */
const IDPS = [
  ['entra', 'Microsoft Entra ID'], ['okta', 'Okta'], ['google', 'Google Workspace'], ['onelogin', 'OneLogin'],
  ['jumpcloud', 'JumpCloud'], ['ping', 'Ping'], ['rfc', 'Other / RFC'],
];
const idpName = (dialect) => (IDPS.find(([d]) => d === dialect) ?? [dialect, dialect])[1];

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

let csrf = null;

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const r = await fetch(`${API}${path}`, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!r.ok) throw new ApiError(r.status, data?.detail ?? `HTTP ${r.status}`);
  return data;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** What a new token may do, as scopes (core/scopes.ts); '' leaves the server's default, read and write. */
const ACCESS = [['', 'Read and write (provisioning)'], ['scim:read', 'Read only (audit)']];
/** When a new token stops working; Entra quarantines a provisioning job whose token expires, so never is first. */
const EXPIRIES = [['', 'Never (Entra requires this)'], ['30d', 'In 30 days'], ['90d', 'In 90 days'], ['365d', 'In a year']];
const expired = (iso) => Boolean(iso) && Date.parse(iso) <= Date.now();
function accessOf(scopes) {
  if (!scopes) return '—';
  const words = { 'scim:read': 'read', 'scim:write': 'write' };
  return scopes.map((s) => words[s] ?? s).join(', ');
}
const enc = encodeURIComponent;

function navigate(path) {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

function Link({ href, children, current }) {
  const go = (e) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${go} aria-current=${current ? 'page' : undefined}>${children}</a>`;
}

function Copy({ value, label }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setDone(true);
      setTimeout(() => setDone(false), 1500);
    } catch {
      setDone(false);
    }
  };
  return html`<button type="button" class="secondary" onClick=${copy} aria-label=${label}>${done ? 'Copied' : 'Copy'}</button>`;
}

function ErrorNote({ error }) {
  return error ? html`<p class="error" role="alert">${error.message}</p>` : null;
}

/** Loads `load()` now and whenever `deps` change; `reload` loads again. */
function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const reload = useCallback(() => {
    load().then((data) => setState({ data, error: undefined }), (error) => setState({ data: undefined, error }));
  }, deps);
  useEffect(reload, [reload]);
  return [state.data, state.error, reload];
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Sign-in

function SignIn() {
  const secret = location.hash.slice(1);
  const [error, setError] = useState();
  const [busy, setBusy] = useState(false);
  const signIn = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api('POST', '/signin', { link: secret });
      history.replaceState(null, '', `${BASE}/`); // the link leaves the address bar and the history
      location.assign(`${BASE}/`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<main class="narrow">
    <h1>Sign in to scimd</h1>
    ${secret
      ? html`<form onSubmit=${signIn}><p>This link signs you in to the scimd console once.</p><button type="submit" disabled=${busy}>Sign in</button></form>`
      : html`<p>This sign-in link is incomplete: open the whole link you were given.</p>`}
    <${ErrorNote} error=${error} />
  </main>`;
}

function SignedOut({ error }) {
  return html`<main class="narrow">
    <h1>Signed out</h1>
    <p>${error?.message ?? 'Your console session has ended.'}</p>
    ${!error && html`<p>The server's operator makes a sign-in link with <code>scimd console link</code> (or <code>scimd console link --org NAME</code> for an organization's admin).</p>`}
  </main>`;
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Identity & Provisioning

/** What to enter in each IdP, with its own field names. */
function SetupGuide({ dialect, baseUrl }) {
  const guides = {
    entra: html`<ol>
      <li>In the Microsoft Entra admin center: Enterprise applications → your application → Provisioning → Provisioning Mode <b>Automatic</b>.</li>
      <li><b>Tenant URL</b>: <code>${baseUrl}</code></li>
      <li><b>Secret Token</b>: the token generated here.</li>
      <li>Select <b>Test Connection</b>, then Save, and start provisioning. Entra matches users by <code>userName</code> (or <code>externalId</code>) and deactivates with <code>active: false</code>.</li>
    </ol>`,
    okta: html`<ol>
      <li>In Okta: Applications → your app → General → App Settings → Provisioning <b>SCIM</b>.</li>
      <li><b>SCIM connector base URL</b>: <code>${baseUrl}</code></li>
      <li><b>Unique identifier field for users</b>: <code>userName</code></li>
      <li><b>Supported provisioning actions</b>: Import New Users and Profile Updates, Push New Users, Push Profile Updates, Push Groups.</li>
      <li><b>Authentication Mode</b>: HTTP Header; <b>Authorization</b>: the token generated here. Then <b>Test Connector Configuration</b>.</li>
    </ol>`,
  };
  return guides[dialect] ?? html`<ol>
    <li>SCIM base URL: <code>${baseUrl}</code></li>
    <li>Authentication: a bearer token (HTTP header <code>Authorization: Bearer …</code>): the token generated here.</li>
    <li>Users are matched by <code>userName</code>; deactivation is <code>active: false</code>.</li>
  </ol>`;
}

function NewToken({ made, tokenUrl, onDone }) {
  if (made.view.scope === 'client') {
    return html`<div class="notice" role="status">
      <p><strong>Copy the client secret now: it is shown once and never again.</strong> In your identity provider, set OAuth 2.0 client credentials:</p>
      <dl class="pairs">
        <dt>Token URL</dt><dd><code>${tokenUrl}</code> <${Copy} value=${tokenUrl} label="Copy token URL" /></dd>
        <dt>Client ID</dt><dd><code aria-label="Client ID">${made.view.id}</code> <${Copy} value=${made.view.id} label="Copy client ID" /></dd>
        <dt>Client secret</dt><dd class="secret"><code aria-label="New token">${made.token}</code> <${Copy} value=${made.token} label="Copy client secret" /></dd>
      </dl>
      <button type="button" class="secondary" onClick=${onDone}>Done</button>
    </div>`;
  }
  return html`<div class="notice" role="status">
    <p><strong>Copy this token now: it is shown once and never again.</strong> Store it in your identity provider.</p>
    <p class="secret"><code aria-label="New token">${made.token}</code> <${Copy} value=${made.token} label="Copy token" /></p>
    <button type="button" class="secondary" onClick=${onDone}>Done</button>
  </div>`;
}

function ConnectionResult({ result, token }) {
  return html`<div class=${result.passed ? 'notice' : 'notice failed'} role="status" aria-label="Connection test">
    <p><strong>${result.passed ? `${idpName(result.dialect)} would accept these answers.` : `${idpName(result.dialect)} would stop here.`}</strong> The requests its own connection test sends, run with the token "${token}":</p>
    <ol class="steps">${result.steps.map((s) => html`<li class=${s.passed ? 'ok' : 'bad'}>
      <span class="verdict">${s.passed ? '✓' : '✗'}</span> ${s.name}<br />
      <code>${s.request}</code> → <strong>${s.status}</strong> <span class="hint">(expected: ${s.expected})</span>
      <details><summary>Answer</summary><pre>${s.response}</pre></details>
    </li>`)}</ol>
  </div>`;
}

function Provisioning({ session, org }) {
  const [tokens, error, reload] = useLoad(() => api('GET', `/organizations/${enc(org)}/tokens`), [org]);
  const [name, setName] = useState('');
  const [dialect, setDialect] = useState('entra');
  const [access, setAccess] = useState('');
  const [expiry, setExpiry] = useState('');
  const [kind, setKind] = useState('');
  const [made, setMade] = useState();
  const [actionError, setActionError] = useState();
  const [tested, setTested] = useState();
  const baseUrl = session.scimBaseUrl;

  const test = async (t) => {
    setActionError(undefined);
    try {
      setTested({ token: t.name, result: await api('POST', `/tokens/${enc(t.id)}/test`) });
    } catch (err) {
      setActionError(err);
    }
  };

  const generate = async (e) => {
    e.preventDefault();
    setActionError(undefined);
    try {
      setMade(await api('POST', `/organizations/${enc(org)}/tokens`, {
        name: name || `${idpName(dialect)} ${kind ? 'OAuth client' : 'token'}`, dialect, ...(access ? { scopes: access } : {}), ...(expiry ? { expires: expiry } : {}),
        ...(kind ? { oauthClient: true } : {}),
      }));
      setName('');
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const revoke = async (t) => {
    if (!confirm(`Revoke the token "${t.name}"? An identity provider using it is refused from its next request.`)) return;
    try {
      await api('POST', `/tokens/${enc(t.id)}/revoke`);
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  // what an IdP calls SCIM with: tokens, OAuth clients (whose access tokens it gets itself), issuers trusted for their JWTs
  const scim = (tokens ?? []).filter((t) => t.scope === 'scim' || t.scope === 'client' || t.scope === 'issuer');
  const active = scim.filter((t) => !t.revoked);
  const lastUsed = active.filter((t) => t.lastUsed).sort((a, b) => (a.lastUsed < b.lastUsed ? 1 : -1))[0];

  return html`<section>
    <h1>Identity & Provisioning</h1>
    <p class="lead">Connect ${org}'s identity provider: it creates, updates and deactivates users and groups here. It is the source of truth.</p>

    <h2>SCIM connection</h2>
    <div class="field">
      <label for="scim-base-url">SCIM base URL</label>
      <div class="row"><input id="scim-base-url" readonly value=${baseUrl} /><${Copy} value=${baseUrl} label="Copy SCIM base URL" /></div>
    </div>

    <h2>Tokens</h2>
    ${made && html`<${NewToken} made=${made} tokenUrl=${session.oauthTokenUrl} onDone=${() => setMade(undefined)} />`}
    <form class="inline" onSubmit=${generate}>
      <div class="field"><label for="token-name">Token name</label><input id="token-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} placeholder="e.g. Entra production" /></div>
      <div class="field"><label for="token-idp">Identity provider</label>
        <select id="token-idp" value=${dialect} onChange=${(e) => setDialect(e.currentTarget.value)}>
          ${IDPS.map(([d, label]) => html`<option value=${d}>${label}</option>`)}
        </select></div>
      <div class="field"><label for="token-kind">Authentication</label>
        <select id="token-kind" value=${kind} onChange=${(e) => setKind(e.currentTarget.value)}>
          <option value="">Bearer token</option><option value="client">OAuth 2.0 client credentials</option>
        </select></div>
      <div class="field"><label for="token-access">Access</label>
        <select id="token-access" value=${access} onChange=${(e) => setAccess(e.currentTarget.value)}>
          ${ACCESS.map(([scopes, label]) => html`<option value=${scopes}>${label}</option>`)}
        </select></div>
      <div class="field"><label for="token-expiry">Expires</label>
        <select id="token-expiry" value=${expiry} onChange=${(e) => setExpiry(e.currentTarget.value)}>
          ${EXPIRIES.map(([span, label]) => html`<option value=${span}>${label}</option>`)}
        </select></div>
      <button type="submit">Generate token</button>
    </form>
    <${ErrorNote} error=${actionError ?? error} />
    <p class="hint">To rotate a token with no interruption: generate a new one, paste it into the identity provider, check below that the new one is used, then revoke the old one.</p>
    <table>
      <caption>Tokens of ${org}</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Identity provider</th><th scope="col">Access</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${scim.length === 0 && html`<tr><td colspan="8">No tokens yet: generate one for your identity provider.</td></tr>`}
        ${scim.map((t) => html`<tr data-token=${t.id}>
          <td>${t.name}${t.scope === 'client' ? html` <span class="badge">OAuth client</span>` : null}${t.scope === 'issuer' ? html` <span class="badge" title=${`JWTs of ${t.issuer.issuer} for ${t.issuer.audience}`}>trusted issuer</span>` : null}${lastUsed && lastUsed.id === t.id ? html` <span class="badge">used last</span>` : null}</td>
          <td>${idpName(t.dialect)}</td><td>${accessOf(t.scopes)}</td><td>${when(t.created)}</td><td>${when(t.lastUsed)}</td>
          <td>${t.expires ? when(t.expires) : 'Never'}${t.expiryWarning ? html` <span class="badge warning" title=${t.expiryWarning}>${expired(t.expires) ? 'expired' : 'expires soon'}</span>` : null}</td>
          <td>${t.revoked ? `Revoked ${when(t.revoked)}` : expired(t.expires) ? 'Expired' : 'Active'}</td>
          <td class="actions">${t.revoked ? null : html`${t.scope === 'issuer' ? null : html`<button type="button" class="secondary" onClick=${() => test(t)} aria-label=${`Test connection with ${t.name}`}>Test connection</button>`}
            <button type="button" class="danger" onClick=${() => revoke(t)} aria-label=${`Revoke ${t.name}`}>Revoke</button>`}</td>
        </tr>`)}
      </tbody>
    </table>
    ${tested && html`<${ConnectionResult} result=${tested.result} token=${tested.token} />`}

    <h2>Setup guide</h2>
    <div class="field"><label for="guide-idp">Identity provider</label>
      <select id="guide-idp" value=${dialect} onChange=${(e) => setDialect(e.currentTarget.value)}>
        ${IDPS.map(([d, label]) => html`<option value=${d}>${label}</option>`)}
      </select></div>
    <${SetupGuide} dialect=${dialect} baseUrl=${baseUrl} />
    ${session.role === 'operator' && session.links && html`<${SetupLinks} org=${org} />`}
  </section>`;
}

function SetupLinks({ org }) {
  const [links, error, reload] = useLoad(() => api('GET', `/organizations/${enc(org)}/setup-links`), [org]);
  const [made, setMade] = useState();
  const [actionError, setActionError] = useState();
  const create = async () => {
    try {
      setMade(await api('POST', `/organizations/${enc(org)}/setup-links`, { ttlHours: 72 }));
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const revoke = async (id) => {
    try {
      await api('POST', `/organizations/${enc(org)}/setup-links/${enc(id)}/revoke`);
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  return html`<h2>Setup links</h2>
    <p class="hint">A setup link lets ${org}'s IT admin sign in to this page (and only ${org}'s pages) for 72 hours, to connect their identity provider.</p>
    ${made && html`<div class="notice" role="status"><p><strong>Send this link to ${org}'s IT admin; it is shown once.</strong></p>
      <p class="secret"><code aria-label="New setup link">${made.url}</code> <${Copy} value=${made.url} label="Copy setup link" /></p></div>`}
    <button type="button" onClick=${create}>Create setup link</button>
    <${ErrorNote} error=${actionError ?? error} />
    <ul class="plain">${(links ?? []).map((l) => html`<li>Made ${when(l.created)} by ${l.createdBy}, ${l.revoked ? `revoked ${when(l.revoked)}` : `valid until ${when(l.expires)}`}
      ${!l.revoked && html` <button type="button" class="danger" onClick=${() => revoke(l.id)}>Revoke link</button>`}</li>`)}</ul>`;
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Users and Groups

function Directory({ org, kind }) {
  const [q, setQ] = useState('');
  const [filter, setFilter] = useState('');
  const [query, setQuery] = useState({ q: '', filter: '', cursor: '' });
  const [page, error] = useLoad(() => {
    const params = new URLSearchParams({ count: '25', cursor: query.cursor });
    if (query.q) params.set('q', query.q);
    else if (query.filter) params.set('filter', query.filter);
    return api('GET', `/organizations/${enc(org)}/${kind === 'Users' ? 'users' : 'groups'}?${params}`);
  }, [org, kind, query]);
  const search = (e) => {
    e.preventDefault();
    setQuery({ q, filter, cursor: '' });
  };
  const rows = page?.Resources ?? [];
  return html`<section>
    <h1>${kind}</h1>
    <p class="lead">Read-only: ${org}'s identity provider is the source of truth for ${kind === 'Users' ? 'users' : 'groups'}.</p>
    <form class="inline" role="search" onSubmit=${search}>
      <div class="field"><label for="search">Search</label><input id="search" type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} placeholder=${kind === 'Users' ? 'user name, name or email' : 'group name'} /></div>
      <div class="field"><label for="filter">SCIM filter</label><input id="filter" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} placeholder=${kind === 'Users' ? 'active eq false' : 'displayName sw "Eng"'} /></div>
      <button type="submit">Search</button>
    </form>
    <${ErrorNote} error=${error} />
    ${page && html`<p class="hint">${page.totalResults} ${kind === 'Users' ? 'users' : 'groups'}</p>`}
    <table>
      <caption>${kind} of ${org}</caption>
      ${kind === 'Users'
        ? html`<thead><tr><th scope="col">User name</th><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Status</th><th scope="col">Last modified</th></tr></thead>
          <tbody>${rows.map((u) => html`<tr><td><${Link} href=${`${BASE}/o/${enc(org)}/users/${enc(u.id)}`}>${u.userName}</${Link}></td><td>${u.displayName ?? u.name?.formatted ?? ''}</td><td>${(u.emails ?? []).find((m) => m.primary)?.value ?? u.emails?.[0]?.value ?? ''}</td><td>${u.active === false ? 'Deactivated' : 'Active'}</td><td>${when(u.meta?.lastModified)}</td></tr>`)}</tbody>`
        : html`<thead><tr><th scope="col">Name</th><th scope="col">External id</th><th scope="col">Last modified</th></tr></thead>
          <tbody>${rows.map((g) => html`<tr><td><${Link} href=${`${BASE}/o/${enc(org)}/groups/${enc(g.id)}`}>${g.displayName}</${Link}></td><td>${g.externalId ?? ''}</td><td>${when(g.meta?.lastModified)}</td></tr>`)}</tbody>`}
    </table>
    <div class="row">
      ${query.cursor && html`<button type="button" class="secondary" onClick=${() => setQuery({ ...query, cursor: '' })}>First page</button>`}
      ${page?.nextCursor && html`<button type="button" class="secondary" onClick=${() => setQuery({ ...query, cursor: page.nextCursor })}>Next page</button>`}
    </div>
  </section>`;
}

function UserPage({ session, org, id }) {
  const [data, error, reload] = useLoad(() => api('GET', `/organizations/${enc(org)}/users/${enc(id)}`), [org, id]);
  const [actionError, setActionError] = useState();
  const deactivate = async () => {
    if (!confirm('Deactivate this user now? Their applications are told at once. The identity provider stays the source of truth: it may reactivate them on its next sync unless it is changed there too.')) return;
    try {
      await api('POST', `/organizations/${enc(org)}/users/${enc(id)}/deactivate`);
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const u = data?.user;
  return html`<section>
    <p><${Link} href=${`${BASE}/o/${enc(org)}/users`}>← Users</${Link}></p>
    <${ErrorNote} error=${actionError ?? error} />
    ${u && html`<h1>${u.displayName ?? u.userName}</h1>
      <dl class="facts">
        <dt>User name</dt><dd>${u.userName}</dd>
        <dt>Status</dt><dd>${u.active === false ? 'Deactivated' : 'Active'}</dd>
        <dt>Email</dt><dd>${(u.emails ?? []).map((m) => m.value).join(', ') || '—'}</dd>
        <dt>External id</dt><dd>${u.externalId ?? '—'}</dd>
        <dt>Groups</dt><dd>${(u.groups ?? []).map((g) => html`<${Link} href=${`${BASE}/o/${enc(org)}/groups/${enc(g.value)}`}>${g.display ?? g.value}</${Link}> `)}${(u.groups ?? []).length === 0 ? '—' : ''}</dd>
        <dt>Last modified</dt><dd>${when(u.meta?.lastModified)}</dd>
      </dl>
      ${session.role === 'operator' && u.active !== false && html`<button type="button" class="danger" onClick=${deactivate}>Deactivate in an emergency</button>`}
      <details><summary>Every attribute</summary><pre>${JSON.stringify(u, null, 2)}</pre></details>
      <h2>History</h2>
      <table>
        <caption>What the audit log holds of this user, newest first</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Operation</th><th scope="col">Changes</th><th scope="col">Status</th><th scope="col">By</th></tr></thead>
        <tbody>${data.history.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.operation}</td>
          <td>${(e.changes ?? []).map((c) => html`<div><code>${c.attribute}</code> ${'before' in c ? JSON.stringify(c.before) : ''} → ${'after' in c ? JSON.stringify(c.after) : ''}</div>`)}</td>
          <td>${e.status}</td><td>${e.tokenName ?? ''}</td></tr>`)}</tbody>
      </table>`}
  </section>`;
}

function GroupPage({ org, id }) {
  const [cursor, setCursor] = useState('');
  const [data, error] = useLoad(() => api('GET', `/organizations/${enc(org)}/groups/${enc(id)}?count=25&cursor=${enc(cursor)}`), [org, id, cursor]);
  const g = data?.group;
  return html`<section>
    <p><${Link} href=${`${BASE}/o/${enc(org)}/groups`}>← Groups</${Link}></p>
    <${ErrorNote} error=${error} />
    ${g && html`<h1>${g.displayName}</h1>
      <p class="hint">${data.members.totalResults} members${g.externalId ? ` · external id ${g.externalId}` : ''} · last modified ${when(g.meta?.lastModified)}</p>
      <table>
        <caption>Members of ${g.displayName}</caption>
        <thead><tr><th scope="col">User name</th><th scope="col">Name</th><th scope="col">Status</th></tr></thead>
        <tbody>${data.members.Resources.map((u) => html`<tr><td><${Link} href=${`${BASE}/o/${enc(org)}/users/${enc(u.id)}`}>${u.userName}</${Link}></td><td>${u.displayName ?? ''}</td><td>${u.active === false ? 'Deactivated' : 'Active'}</td></tr>`)}</tbody>
      </table>
      <div class="row">
        ${cursor && html`<button type="button" class="secondary" onClick=${() => setCursor('')}>First page</button>`}
        ${data.members.nextCursor && html`<button type="button" class="secondary" onClick=${() => setCursor(data.members.nextCursor)}>Next page</button>`}
      </div>`}
  </section>`;
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Activity

const PERIODS = [['1h', 'Last hour'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];
const KINDS = [['', 'All'], ['User', 'Users'], ['Group', 'Groups'], ['Token', 'Tokens'], ['Organization', 'Organization']];

function Change({ c }) {
  const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
  return html`<div><code>${c.attribute}</code> ${'before' in c ? html`<del>${show(c.before)}</del> ` : ''}→ ${'after' in c ? html`<ins>${show(c.after)}</ins>` : 'removed'}</div>`;
}

function Activity({ org }) {
  const [entries, setEntries] = useState([]);
  const [error, setError] = useState();
  const [filters, setFilters] = useState({ since: '7d', resourceType: '', outcome: '', tokenId: '' });
  const [tokens] = useLoad(() => api('GET', `/organizations/${enc(org)}/tokens`), [org]);
  const set = (name) => (e) => setFilters({ ...filters, [name]: e.currentTarget.value });
  useEffect(() => {
    let stopped = false;
    let after = 0;
    let timer;
    const seen = [];
    setEntries([]);
    const poll = async () => {
      try {
        for (let pages = 0; pages < 20; pages++) {
          const params = new URLSearchParams({ organization: org, since: filters.since, limit: '200' });
          if (after) params.set('after', String(after));
          if (filters.outcome) params.set('outcome', filters.outcome);
          if (filters.resourceType) params.set('resourceType', filters.resourceType);
          if (filters.tokenId) params.set('tokenId', filters.tokenId);
          const page = await api('GET', `/audit?${params}`);
          if (stopped) return;
          seen.push(...page.entries);
          if (page.entries.length) after = page.entries[page.entries.length - 1].seq;
          if (!page.next) break;
        }
        setEntries(seen.slice().reverse());
        setError(undefined);
      } catch (err) {
        if (!stopped) setError(err);
      }
      if (!stopped) timer = setTimeout(poll, 3000); // live: new entries appear while the page is open
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [org, filters]);
  return html`<section>
    <h1>Activity</h1>
    <p class="lead">Every change the identity provider (or an admin) made in ${org}, and every refused request, newest first, as the audit log records it. New entries appear as they happen.</p>
    <div class="filters">
      <div class="field"><label for="since">Period</label>
        <select id="since" value=${filters.since} onChange=${set('since')}>${PERIODS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>
      <div class="field"><label for="kind">Resource type</label>
        <select id="kind" value=${filters.resourceType} onChange=${set('resourceType')}>${KINDS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>
      <div class="field"><label for="outcome">Outcome</label>
        <select id="outcome" value=${filters.outcome} onChange=${set('outcome')}>
          <option value="">All</option><option value="success">Succeeded</option><option value="failure">Failed</option>
        </select></div>
      <div class="field"><label for="token">Token</label>
        <select id="token" value=${filters.tokenId} onChange=${set('tokenId')}>
          <option value="">Any</option>${(tokens ?? []).filter((t) => t.scope === 'scim' || t.scope === 'client' || t.scope === 'issuer').map((t) => html`<option value=${t.id}>${t.name}</option>`)}
        </select></div>
    </div>
    <${ErrorNote} error=${error} />
    <table>
      <caption>Audit log of ${org}: ${entries.length} entries</caption>
      <thead><tr><th scope="col">Time</th><th scope="col">Operation</th><th scope="col">Resource</th><th scope="col">Status</th><th scope="col">By</th></tr></thead>
      <tbody>${entries.map((e) => html`<tr>
        <td>${when(e.at)}</td><td>${e.operation}</td>
        <td>${e.resourceType ?? ''} ${e.resourceId ? html`<code>${e.resourceId}</code>` : ''}
          ${(e.changes?.length || e.detail || e.requestId) ? html`<details><summary>Detail</summary>
            ${(e.changes ?? []).map((c) => html`<${Change} c=${c} />`)}
            ${e.detail && html`<div>${e.scimType ? html`<code>${e.scimType}</code> ` : ''}${e.detail}</div>`}
            <div class="hint">request ${e.requestId ?? '—'}${e.clientAddress ? ` from ${e.clientAddress}` : ''}${e.version ? `, version ${e.version}` : ''}</div>
          </details>` : ''}</td>
        <td>${e.status}</td><td>${e.tokenName ?? ''}</td></tr>`)}</tbody>
    </table>
  </section>`;
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Events and deliveries

function Deliveries({ org }) {
  const [data, error, reload] = useLoad(() => api('GET', `/organizations/${enc(org)}/deliveries`), [org]);
  const [actionError, setActionError] = useState();
  const [note, setNote] = useState();
  const retry = async (eventId) => {
    try {
      const { retried } = await api('POST', `/organizations/${enc(org)}/deliveries/retry`, eventId ? { eventId } : {});
      setNote(`${retried} event${retried === 1 ? '' : 's'} queued for delivery again.`);
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const dead = data?.dead ?? [];
  return html`<section>
    <h1>Events and deliveries</h1>
    <p class="lead">Applications learn of every change through lifecycle events: signed webhooks${data?.feed ? ' and the events feed' : ''}. An event that could not be delivered after every retry is dead-lettered here until you retry it.</p>
    ${data?.webhooks && html`<h2>Webhook endpoints</h2>
      ${data.webhooks.length === 0 ? html`<p class="hint">None: set SCIMD_WEBHOOK_URL to deliver events.</p>`
        : html`<ul class="plain">${data.webhooks.map((url) => html`<li><code>${url}</code></li>`)}</ul>`}`}
    <h2>Recent deliveries</h2>
    ${(data?.recent ?? []).length === 0 ? html`<p>No events yet.</p>` : html`<table>
      <caption>The newest events of ${org} on each endpoint</caption>
      <thead><tr><th scope="col">Event</th><th scope="col">Resource</th><th scope="col">Endpoint</th><th scope="col">Status</th><th scope="col">Attempts</th></tr></thead>
      <tbody>${data.recent.map((e) => html`<tr><td>${e.type}</td><td>${e.resource?.type} <code>${e.resource?.id}</code></td><td><code>${e.webhook || 'in process'}</code></td>
        <td>${e.state === 'delivered' ? `Delivered ${when(e.when)}` : e.state === 'dead' ? `Dead ${when(e.when)}` : `Waiting: next try ${when(e.when)}`}${e.lastError ? html`<br /><span class="hint">${e.lastError}</span>` : ''}</td>
        <td>${e.attempts}</td></tr>`)}</tbody>
    </table>`}
    <h2>Dead letters</h2>
    ${note && html`<p role="status">${note}</p>`}
    <${ErrorNote} error=${actionError ?? error} />
    ${dead.length === 0 ? html`<p>No dead-lettered events.</p>` : html`<button type="button" onClick=${() => retry()}>Retry all</button>
    <table>
      <caption>Events that could not be delivered</caption>
      <thead><tr><th scope="col">Event</th><th scope="col">Resource</th><th scope="col">Endpoint</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${dead.map((e) => html`<tr><td>${e.type}<br /><span class="hint">${when(e.at)}</span></td><td>${e.resource?.type} <code>${e.resource?.id}</code></td>
        <td><code>${e.webhook || 'in process'}</code></td><td>${e.attempts}</td><td>${e.lastError ?? ''}</td>
        <td><button type="button" class="secondary" onClick=${() => retry(e.id)} aria-label=${`Retry ${e.type} ${e.resource?.id}`}>Retry</button></td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Organizations (the operator)

function Organizations() {
  const [orgs, error, reload] = useLoad(() => api('GET', '/organizations'), []);
  const [name, setName] = useState('');
  const [actionError, setActionError] = useState();
  const create = async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/organizations', { name });
      setName('');
      setActionError(undefined);
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const rename = async (o) => {
    const name = prompt(`New name for ${o.name}:`, o.name);
    if (!name || name === o.name) return;
    try {
      await api('POST', `/organizations/${enc(o.name)}/rename`, { name });
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const remove = async (o) => {
    const users = o.resources?.User ?? 0;
    const groups = o.resources?.Group ?? 0;
    const confirm = prompt(`Deleting ${o.name} deletes its ${users} users, ${groups} groups, ${o.tokens} tokens and ${o.auditEntries} audit entries, for good. Type its name to confirm:`);
    if (confirm === null) return;
    try {
      await api('POST', `/organizations/${enc(o.name)}/delete`, { confirm });
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  return html`<section>
    <h1>Organizations</h1>
    <form class="inline" onSubmit=${create}>
      <div class="field"><label for="org-name">New organization</label><input id="org-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} required /></div>
      <button type="submit">Create organization</button>
    </form>
    <${ErrorNote} error=${actionError ?? error} />
    <table>
      <caption>Every organization on this server</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Users</th><th scope="col">Groups</th><th scope="col">Tokens</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${(orgs ?? []).map((o) => html`<tr><td><${Link} href=${`${BASE}/o/${enc(o.name)}/provisioning`}>${o.name}</${Link}></td>
        <td>${o.resources?.User ?? 0}</td><td>${o.resources?.Group ?? 0}</td><td>${o.tokens}</td><td>${when(o.created)}</td>
        <td class="actions"><button type="button" class="secondary" onClick=${() => rename(o)} aria-label=${`Rename ${o.name}`}>Rename</button>
          <button type="button" class="danger" onClick=${() => remove(o)} aria-label=${`Delete ${o.name}`}>Delete</button></td></tr>`)}</tbody>
    </table>
  </section>`;
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// The frame

const PAGES = [['provisioning', 'Identity & Provisioning'], ['users', 'Users'], ['groups', 'Groups'], ['activity', 'Activity'], ['events', 'Events']];

function route(path, session, orgs) {
  const below = path.slice(BASE.length);
  const m = /^\/o\/([^/]+)\/(\w+)(?:\/([^/]+))?/.exec(below);
  if (m) return { org: decodeURIComponent(m[1]), page: m[2], id: m[3] && decodeURIComponent(m[3]) };
  if (/^\/organizations/.test(below) && session.role === 'operator') return { page: 'organizations' };
  return { org: session.organization ?? orgs?.[0]?.name, page: 'provisioning' };
}

function Console({ session }) {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const [orgs] = useLoad(() => api('GET', '/organizations'), []);
  const { org, page, id } = route(path, session, orgs);
  const signOut = async () => {
    await api('POST', '/signout').catch(() => undefined);
    location.assign(`${BASE}/signed-out`);
  };
  const switchOrg = (e) => navigate(`${BASE}/o/${enc(e.currentTarget.value)}/${page === 'organizations' ? 'provisioning' : page}`);
  let body = html`<p>Loading…</p>`;
  if (page === 'organizations') body = html`<${Organizations} />`;
  else if (!org) body = orgs ? html`<p>There is no organization yet: create one under Organizations.</p>` : body;
  else if (page === 'users' && id) body = html`<${UserPage} key=${id} session=${session} org=${org} id=${id} />`;
  else if (page === 'groups' && id) body = html`<${GroupPage} key=${id} org=${org} id=${id} />`;
  else if (page === 'users') body = html`<${Directory} key=${`users ${org}`} org=${org} kind="Users" />`;
  else if (page === 'groups') body = html`<${Directory} key=${`groups ${org}`} org=${org} kind="Groups" />`;
  else if (page === 'activity') body = html`<${Activity} org=${org} />`;
  else if (page === 'events') body = html`<${Deliveries} org=${org} />`;
  else body = html`<${Provisioning} session=${session} org=${org} />`;
  return html`<div class="frame">
    <header>
      <span class="brand">scimd</span>
      ${session.role === 'operator' && orgs
        ? html`<label class="org-switch">Organization <select value=${org} onChange=${switchOrg}>${orgs.map((o) => html`<option value=${o.name}>${o.name}</option>`)}</select></label>`
        : html`<span class="org">${org}</span>`}
      ${session.links && html`<button type="button" class="secondary" onClick=${signOut}>Sign out</button>`}
    </header>
    <nav aria-label="Console">
      ${org && PAGES.map(([p, label]) => html`<${Link} href=${`${BASE}/o/${enc(org)}/${p}`} current=${page === p}>${label}</${Link}>`)}
      ${session.role === 'operator' && html`<${Link} href=${`${BASE}/organizations`} current=${page === 'organizations'}>Organizations</${Link}>`}
    </nav>
    <main>${body}</main>
  </div>`;
}

function App() {
  const [session, setSession] = useState();
  const [error, setError] = useState();
  const signingIn = location.pathname === `${BASE}/signin`;
  useEffect(() => {
    if (signingIn) return;
    api('GET', '/session').then((s) => {
      csrf = s.csrf;
      setSession(s);
    }, setError);
  }, []);
  if (signingIn) return html`<${SignIn} />`;
  if (error) return html`<${SignedOut} error=${error.status === 401 ? undefined : error} />`;
  if (!session) return html`<p class="loading">Loading…</p>`;
  return html`<${Console} session=${session} />`;
}

render(html`<${App} />`, document.getElementById('app'));
