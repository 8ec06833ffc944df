"""The team page's HTML, CSS and script, inline (no external assets: teams work offline).

Every value from the manifest is put into the page with ``textContent``, never as HTML.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Tim keliling / Mobile team</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{margin:0;font-family:sans-serif;background:#f4f4f0;color:#111}
header{background:#14365d;color:#fff;padding:.6em 1em;display:flex;gap:1.5em;flex-wrap:wrap}
header b{font-size:1.2em} .en{color:#666;font-size:.85em} header .en{color:#bcd}
main{padding:1em;max-width:60em} section{background:#fff;border-radius:6px;padding:1em;
margin-bottom:1em} input[type=text]{font-size:1.2em;width:20em;max-width:90%}
button{font-size:1.1em;padding:.4em 1em} table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.3em;border-bottom:1px solid #ddd}
.ok{border-left:8px solid #1a7f37} .no{border-left:8px solid #b3261e}
.conflict,.rejected{color:#b3261e;font-weight:bold} .unsynced{color:#8a5a00}
.off{color:#ffb4a8} .on{color:#b6f2c0}
</style></head><body>
<header><b>Tim <span id="team"></span></b>
<span id="link"></span>
<span>Belum sinkron: <b id="unsynced">0</b> <span class="en">/ not synced</span></span>
<span>Sinkron terakhir: <span id="lastsync">-</span> <span class="en">/ last sync</span></span>
</header><main>
<section><h2>Periksa kode <span class="en">/ Check a code</span></h2>
<form id="scanform"><input type="text" id="code" autocomplete="off"
placeholder="DT1:... (atau arahkan QR ke kamera / or show the QR to the camera)">
<button>Periksa / Check</button></form>
<div id="verdict"></div></section>
<section id="problems" hidden><h2>Konflik <span class="en">/ Conflicts</span></h2>
<table><tbody id="problemrows"></tbody></table></section>
<section><h2>Hari ini <span class="en">/ Today</span> <span id="today"></span></h2>
<table><thead><tr><th>Nomor / Number</th><th>Nama / Who</th><th>Plat / Plate</th>
<th>Tempat / Place</th><th>Status</th></tr></thead><tbody id="rows"></tbody></table>
<h3>Hari lain <span class="en">/ Other days</span></h3>
<table><tbody id="otherrows"></tbody></table></section>
</main>
<script>
let current=null, shownScan=null;
const $=id=>document.getElementById(id);
function el(tag,text,cls){const e=document.createElement(tag);
 if(text!==undefined&&text!==null)e.textContent=text; if(cls)e.className=cls; return e;}
function row(cells,cls){const tr=el('tr',null,cls);
 for(const c of cells)tr.appendChild(el('td',c==null?'-':String(c)));return tr;}
function fill(id,rows){const body=$(id);body.replaceChildren(...rows);}
function showVerdict(v){const box=$('verdict');box.replaceChildren();current=null;
 if(!v)return; box.className=v.ok?'ok':'no';
 if(!v.ok){box.appendChild(el('h3','DITOLAK: '+v.message_id));
  box.appendChild(el('p','Refused: '+v.message_en,'en'));
  if(v.number)box.appendChild(el('p','Izin / permit '+v.number));return;}
 current=v; const p=v.permit;
 box.appendChild(el('h3','Serahkan '+p.number+' — '+p.holder+(p.plate?' — '+p.plate:'')));
 box.appendChild(el('p',v.check_id)); box.appendChild(el('p',v.check_en,'en'));
 const label=el('label'); const tick=el('input'); tick.type='checkbox'; tick.id='idchecked';
 label.appendChild(tick);
 label.appendChild(el('span',' KTP sudah diperiksa dan cocok / KTP checked and matching'));
 box.appendChild(label); box.appendChild(el('br'));
 const go=el('button','Serahkan / Hand over'); go.onclick=handOver; box.appendChild(go);}
async function post(path,body){const r=await fetch(path,{method:'POST',
 headers:{'Content-Type':'application/json'},body:JSON.stringify(body)});
 return [r.status,await r.json()];}
$('scanform').onsubmit=async e=>{e.preventDefault();const code=$('code').value;
 $('code').value=''; const [s,v]=await post('/scan',{code});
 shownScan=v; showVerdict(v);};
function position(){return new Promise(done=>{if(!navigator.geolocation)return done(null);
 navigator.geolocation.getCurrentPosition(
  p=>done({lat:p.coords.latitude,lon:p.coords.longitude}),()=>done(null),{timeout:3000});});}
async function handOver(){if(!current)return;
 const [s,a]=await post('/handover',{code_sha256:current.code_sha256,
  id_checked:$('idchecked').checked,position:await position()});
 const box=$('verdict');
 if(s===200){box.className='ok';box.replaceChildren(el('h3','Tercatat / Recorded: '+
  current.permit.number));current=null;}
 else box.appendChild(el('p',a.error,'no'));
 tick();}
async function tick(){try{const r=await fetch('/state',{cache:'no-store'});const s=await r.json();
 $('team').textContent=s.team+' ('+s.site+')';
 const link=$('link'); link.textContent=s.connected?'terhubung / online':'luring / offline';
 link.className=s.connected?'on':'off';
 $('unsynced').textContent=s.unsynced; $('lastsync').textContent=s.last_sync||'-';
 $('today').textContent=s.today;
 const cells=r=>[r.number,r.who,r.plate,r.place,r.status_text+(r.reason?' — '+r.reason:'')];
 fill('rows',s.permits.map(r=>row(cells(r),r.status)));
 fill('otherrows',s.other_days.map(r=>row([r.date,...cells(r)],r.status)));
 $('problems').hidden=!s.problems.length;
 fill('problemrows',s.problems.map(p=>row([p.number,p.outcome,p.reason,p.happened_at],
  p.outcome)));
 if(s.last_scan&&s.last_scan.source==='camera'&&
    (!shownScan||shownScan.at!==s.last_scan.at)){shownScan=s.last_scan;showVerdict(s.last_scan);}
 }catch(e){}}
tick();setInterval(tick,2000);
</script></body></html>
"""
