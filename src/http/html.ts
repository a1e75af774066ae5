/** Self-contained HTML pages (inline CSS, no external resources) rendered from the JSON bodies. */
import type { HtmlView } from '../ogc/model';

type Json = Record<string, any>;

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2733;background:#f6f8fa}
header{background:#1f4e79;color:#fff;padding:.8rem 1.5rem}header a{color:#fff;margin-right:1.2rem;text-decoration:none}
main{max-width:70rem;margin:1.5rem auto;padding:0 1.5rem}h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #d0d7de;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f6}pre{background:#fff;border:1px solid #d0d7de;padding:.8rem;overflow:auto;font-size:.85rem}
code{font-size:.9em}.status{font-weight:bold}.bar{background:#d0d7de;border-radius:4px;height:1rem;width:100%;max-width:30rem}
.bar>div{background:#2e7d32;height:100%;border-radius:4px;transition:width .3s}.muted{color:#57606a}
.method{display:inline-block;min-width:4rem;font-weight:bold;font-family:monospace}`;

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function link(href: string, text: unknown): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
}

/** The `f=html` form of a JSON link href. */
function htmlHref(href: string): string {
  try {
    const url = new URL(href);
    if (url.searchParams.get('f') === 'json') url.searchParams.set('f', 'html');
    return url.toString();
  } catch {
    return href;
  }
}

export function page(title: string, body: string, baseUrl: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>
<header>${link(`${baseUrl}/?f=html`, 'Home')}${link(`${baseUrl}/processes?f=html`, 'Processes')}${link(`${baseUrl}/jobs?f=html`, 'Jobs')}${link(`${baseUrl}/api.html`, 'API')}</header>
<main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function linksTable(links: Json[] = []): string {
  const rows = links.map((l) => `<tr><td>${escapeHtml(l.rel)}</td><td>${link(l.href, l.title ?? l.href)}</td><td>${escapeHtml(l.type)}</td></tr>`);
  return `<table><tr><th>Relation</th><th>Link</th><th>Type</th></tr>${rows.join('')}</table>`;
}

function jsonBlock(value: unknown): string {
  return `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
}

function landing(body: Json): [string, string] {
  return [body.title ?? 'OGC API - Processes', `<p>${escapeHtml(body.description)}</p><h2>Links</h2>${linksTable(body.links)}`];
}

function conformance(body: Json): [string, string] {
  return ['Conformance', `<ul>${(body.conformsTo as string[]).map((uri) => `<li><code>${escapeHtml(uri)}</code></li>`).join('')}</ul>`];
}

function processes(body: Json): [string, string] {
  const rows = (body.processes as Json[]).map((process) => {
    const self = (process.links as Json[]).find((l) => l.rel === 'self');
    return `<tr><td>${link(htmlHref(self?.href ?? ''), process.id)}</td><td>${escapeHtml(process.title)}</td><td>${escapeHtml(process.version)}</td><td>${escapeHtml(process.description)}</td><td>${escapeHtml((process.jobControlOptions ?? []).join(', '))}</td></tr>`;
  });
  const paging = (body.links as Json[]).filter((l) => l.rel === 'next' || l.rel === 'prev').map((l) => link(htmlHref(l.href), l.title)).join(' · ');
  return ['Processes', `<table><tr><th>Id</th><th>Title</th><th>Version</th><th>Description</th><th>Execution</th></tr>${rows.join('')}</table><p>${paging}</p>`];
}

function ioTable(entries: Record<string, Json>, withOccurs: boolean): string {
  const rows = Object.entries(entries ?? {}).map(
    ([id, io]) =>
      `<tr><td><code>${escapeHtml(id)}</code></td><td>${escapeHtml(io.title)}<div class="muted">${escapeHtml(io.description)}</div></td>` +
      (withOccurs ? `<td>${escapeHtml(io.minOccurs ?? 1)}..${escapeHtml(io.maxOccurs ?? 1)}</td>` : '') +
      `<td>${jsonBlock(io.schema)}</td></tr>`,
  );
  return `<table><tr><th>Id</th><th>Title</th>${withOccurs ? '<th>Occurs</th>' : ''}<th>Schema</th></tr>${rows.join('')}</table>`;
}

function process(body: Json): [string, string] {
  const execute = (body.links as Json[]).find((l) => l.rel?.endsWith('/execute'));
  const example = { inputs: Object.fromEntries(Object.entries(body.inputs ?? {}).filter(([, io]: [string, any]) => (io.minOccurs ?? 1) > 0).map(([id, io]: [string, any]) => [id, io.schema?.default ?? io.schema?.example ?? `<${io.schema?.type ?? 'value'}>`])) };
  return [
    body.title ?? body.id,
    `<p>${escapeHtml(body.description)}</p><p>Id <code>${escapeHtml(body.id)}</code>, version ${escapeHtml(body.version)}; execution: ${escapeHtml(body.jobControlOptions?.join(', '))}; outputs by ${escapeHtml(body.outputTransmission?.join(', '))}.</p>
<h2>Inputs</h2>${ioTable(body.inputs, true)}<h2>Outputs</h2>${ioTable(body.outputs, false)}
<h2>Execution</h2><p><span class="method">POST</span> <code>${escapeHtml(execute?.href)}</code> with a JSON body such as (add <code>Prefer: respond-async</code> to run it as a job):</p>${jsonBlock(example)}`,
  ];
}

function jobs(body: Json): [string, string] {
  const rows = (body.jobs as Json[]).map(
    (job) =>
      `<tr><td>${link(htmlHref(job.links.find((l: Json) => l.rel === 'self')?.href ?? ''), job.jobID)}</td><td>${escapeHtml(job.processID)}</td><td class="status">${escapeHtml(job.status)}</td><td>${escapeHtml(job.progress)}%</td><td>${escapeHtml(job.created)}</td><td>${escapeHtml(job.finished)}</td></tr>`,
  );
  const paging = (body.links as Json[]).filter((l) => l.rel === 'next' || l.rel === 'prev').map((l) => link(htmlHref(l.href), l.title)).join(' · ');
  return ['Jobs', `<table><tr><th>Job</th><th>Process</th><th>Status</th><th>Progress</th><th>Created</th><th>Finished</th></tr>${rows.join('')}</table><p>${paging}</p>`];
}

/** The job page polls its own JSON status until the job reaches a final status. */
function job(body: Json): [string, string] {
  const self = (body.links as Json[]).find((l) => l.rel === 'self')?.href ?? '';
  const results = (body.links as Json[]).find((l) => l.rel?.endsWith('/results'));
  const script = `(function(){var url=${JSON.stringify(self).replace(/</g, '\\u003c')};var fin=['successful','failed','dismissed'];
function set(id,v){document.getElementById(id).textContent=v==null?'':v;}
function poll(){fetch(url,{headers:{Accept:'application/json'}}).then(function(r){return r.json();}).then(function(s){
set('job-status',s.status);set('job-message',s.message);set('job-progress',s.progress+'%');set('job-started',s.started);set('job-updated',s.updated);set('job-finished',s.finished);
document.getElementById('job-bar').style.width=s.progress+'%';
var res=(s.links||[]).filter(function(l){return /\\/results$/.test(l.rel);})[0];
if(res){var a=document.getElementById('job-results');a.href=res.href;a.style.display='inline';}
if(fin.indexOf(s.status)<0)setTimeout(poll,1000);}).catch(function(){setTimeout(poll,3000);});}
if(fin.indexOf(${JSON.stringify(body.status)})<0)setTimeout(poll,1000);})();`;
  return [
    `Job ${body.jobID}`,
    `<table>
<tr><th>Process</th><td>${escapeHtml(body.processID)}</td></tr>
<tr><th>Status</th><td class="status" id="job-status">${escapeHtml(body.status)}</td></tr>
<tr><th>Message</th><td id="job-message">${escapeHtml(body.message)}</td></tr>
<tr><th>Progress</th><td><div class="bar"><div id="job-bar" style="width:${Number(body.progress) || 0}%"></div></div><span id="job-progress">${escapeHtml(body.progress)}%</span></td></tr>
<tr><th>Created</th><td>${escapeHtml(body.created)}</td></tr><tr><th>Started</th><td id="job-started">${escapeHtml(body.started)}</td></tr>
<tr><th>Updated</th><td id="job-updated">${escapeHtml(body.updated)}</td></tr><tr><th>Finished</th><td id="job-finished">${escapeHtml(body.finished)}</td></tr>
</table>
<p><a id="job-results" href="${escapeHtml(results?.href ?? '#')}" style="display:${results ? 'inline' : 'none'}">Results</a></p>
${body.exception ? `<h2>Exception</h2>${jsonBlock(body.exception)}` : ''}
<h2>Links</h2>${linksTable(body.links)}<script>${script}</script>`,
  ];
}

function results(body: Json): [string, string] {
  return ['Results', jsonBlock(body)];
}

function exception(body: Json): [string, string] {
  return [
    `${body.status ?? ''} ${body.title ?? 'Error'}`.trim(),
    `<p>${escapeHtml(body.detail)}</p><p class="muted">Type: <code>${escapeHtml(body.type)}</code></p>`,
  ];
}

const VIEWS: Record<HtmlView, (body: Json) => [string, string]> = { landing, conformance, processes, process, jobs, job, results, exception };

export function renderView(view: HtmlView, body: unknown, baseUrl: string): string {
  const [title, content] = VIEWS[view](body as Json);
  return page(String(title), content, baseUrl);
}

/** The `service-doc` page: every path and operation of the OpenAPI document, with its parameters and responses. */
export function renderApiDocumentation(document: Json, baseUrl: string): string {
  const sections = Object.entries(document.paths as Record<string, Json>).map(([path, item]) => {
    const operations = Object.entries(item).map(([method, operation]: [string, Json]) => {
      const parameters = (operation.parameters ?? []).map((parameter: Json) => {
        const resolved = parameter.$ref ? document.components.parameters[parameter.$ref.split('/').pop()] : parameter;
        return `<li><code>${escapeHtml(resolved.name)}</code> (${escapeHtml(resolved.in)}) ${escapeHtml(resolved.description ?? '')}</li>`;
      });
      const responses = Object.entries(operation.responses ?? {}).map(([status, response]: [string, any]) => {
        const resolved = response.$ref ? document.components.responses[response.$ref.split('/').pop()] : response;
        return `<li><b>${escapeHtml(status)}</b> ${escapeHtml(resolved.description)}</li>`;
      });
      return `<h3><span class="method">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3><p>${escapeHtml(operation.summary)}</p>
${parameters.length ? `<p>Parameters:</p><ul>${parameters.join('')}</ul>` : ''}<p>Responses:</p><ul>${responses.join('')}</ul>`;
    });
    return operations.join('');
  });
  const intro = `<p>${escapeHtml(document.info?.description)} The machine-readable definition is at ${link(`${baseUrl}/api`, `${baseUrl}/api`)} (OpenAPI 3.0, JSON).</p>
<p>Every resource answers JSON by default and HTML with <code>?f=html</code> or <code>Accept: text/html</code>. Errors are JSON exceptions <code>{type, title, status, detail, instance}</code>.</p>`;
  return page(`${document.info?.title ?? 'API'} — API documentation`, intro + sections.join(''), baseUrl);
}
