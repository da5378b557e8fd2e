#!/usr/bin/env node
// tools/gen-prices.mjs — writes core/prices_default.c, the shipped price table,
// from the MIT-licensed npm package @pydantic/genai-prices (pinned below).
//
//   node tools/gen-prices.mjs [--as-of YYYY-MM-DD] [--from DIR] [--out FILE]
//
// --as-of  the date whose prices are taken where the package has dated
//          prices (default: today, UTC); written into the file, so a rerun
//          with the same date reproduces it byte for byte.
// --from   an unpacked copy of the package (the folder with package.json);
//          otherwise tools/prices/node_modules/@pydantic/genai-prices when
//          present, otherwise the package is installed with npm into a
//          temporary folder (removed afterwards). Never into the source tree.
// --out    default: core/prices_default.c next to this script's folder.
//
// Node 18 or later, ESM, no dependencies besides the package itself.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PKG = '@pydantic/genai-prices';
const VERSION = '0.1.8';
const LICENSE = 'MIT';

// Provider ids as the package names them, first-party first: a model id that
// several providers list is taken from the first one here.
const PROVIDERS = ['openai', 'anthropic', 'google', 'mistral', 'groq', 'cohere', 'deepseek',
    'x-ai', 'aws'];

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

function parseArgs(argv) {
    const o = { asOf: new Date().toISOString().slice(0, 10), from: null,
        out: join(root, 'core', 'prices_default.c') };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i], v = argv[i + 1];
        if (a === '--as-of' && v) { o.asOf = v; i++; }
        else if (a === '--from' && v) { o.from = resolve(v); i++; }
        else if (a === '--out' && v) { o.out = resolve(v); i++; }
        else { throw new Error(`unknown argument: ${a}`); }
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(o.asOf)) throw new Error(`--as-of wants YYYY-MM-DD, got ${o.asOf}`);
    return o;
}

// The folder of the package (with package.json), and a cleanup function.
function locatePackage(from) {
    if (from) return { dir: from, cleanup: () => {} };
    const local = join(here, 'prices', 'node_modules', ...PKG.split('/'));
    if (existsSync(join(local, 'package.json'))) return { dir: local, cleanup: () => {} };
    const tmp = mkdtempSync(join(tmpdir(), 'gen-prices-'));
    execFileSync('npm', ['install', '--prefix', tmp, '--no-save', '--no-audit', '--no-fund',
        '--ignore-scripts', `${PKG}@${VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    return { dir: join(tmp, 'node_modules', ...PKG.split('/')),
        cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

// A price field: a number, or tiered {base, tiers} (the base tier is taken).
function plain(v) {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return { value: v, tiered: false };
    if (v && typeof v === 'object' && typeof v.base === 'number') return { value: v.base, tiered: true };
    return null;
}

// The price set in effect on asOf. Dated entries (start_date): the latest one
// that has started, else the undated first entry. Time-of-day entries
// (off-peak discounts, peak surcharges): each field takes the highest of the
// dated choice and every window, so spend is never under-counted.
function choosePrices(model, asOf) {
    if (!Array.isArray(model.prices)) return { prices: model.prices, note: null };
    let chosen = model.prices[0].prices, date = null, windows = [];
    for (const c of model.prices) {
        const k = c.constraint;
        if (!k) continue;
        if (k.type === 'start_date' && k.start_date <= asOf && (!date || k.start_date > date)) {
            chosen = c.prices;
            date = k.start_date;
        } else if (k.type === 'time_of_date') {
            windows.push(c.prices);
        }
    }
    const notes = [];
    if (date) notes.push(`price from ${date}`);
    else if (model.prices.some((c) => c.constraint && c.constraint.type === 'start_date'))
        notes.push('price before a later dated change');
    if (!windows.length) return { prices: chosen, note: notes.join('; ') || null };
    const merged = { ...chosen };
    for (const w of windows) {
        for (const [f, v] of Object.entries(w)) {
            const a = plain(merged[f]), b = plain(v);
            if (b && (!a || b.value > a.value)) merged[f] = v;
        }
    }
    notes.push('peak of time-of-day prices');
    return { prices: merged, note: notes.join('; ') };
}

function cString(s) {
    let out = '"';
    for (const ch of Buffer.from(s, 'utf8')) {
        if (ch === 0x22 || ch === 0x5c) out += '\\' + String.fromCharCode(ch);
        else if (ch >= 0x20 && ch < 0x7f) out += String.fromCharCode(ch);
        else out += '\\' + ch.toString(8).padStart(3, '0');
    }
    return out + '"';
}

function cNumber(v) {
    if (v === null) return '-1';
    const s = String(v);
    return /[.e]/.test(s) ? s : s + '.0';
}

async function main() {
    const opt = parseArgs(process.argv.slice(2));
    const { dir, cleanup } = locatePackage(opt.from);
    try {
        const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
        if (pj.name !== PKG || pj.version !== VERSION)
            throw new Error(`${dir}: want ${PKG}@${VERSION}, found ${pj.name}@${pj.version}`);
        if (pj.license !== LICENSE) throw new Error(`${PKG}: license is ${pj.license}, not ${LICENSE}`);
        const lib = await import(pathToFileURL(join(dir, 'dist', 'index.js')).href);

        const rows = new Map();
        const skipped = [];
        for (const pid of PROVIDERS) {
            const prov = lib.findProvider({ providerId: pid });
            if (!prov || prov.id !== pid) throw new Error(`provider ${pid} not in ${PKG}`);
            for (const m of prov.models) {
                // Ids ending in '-' are match prefixes (fine-tune families), not model names.
                if (m.id.endsWith('-')) { skipped.push(`${pid}/${m.id} (a name prefix)`); continue; }
                if (rows.has(m.id)) continue;
                const { prices, note } = choosePrices(m, opt.asOf);
                const inp = plain(prices.input_mtok);
                if (!inp) { skipped.push(`${pid}/${m.id} (no per-token input price)`); continue; }
                const out = plain(prices.output_mtok);
                const cr = plain(prices.cache_read_mtok);
                const cw = plain(prices.cache_write_mtok);
                const tiered = [inp, out, cr, cw].some((x) => x && x.tiered);
                const notes = [note, tiered ? 'base tier of tiered prices' : null].filter(Boolean);
                rows.set(m.id, { id: m.id, provider: pid, input: inp.value,
                    output: out ? out.value : null, cached: cr ? cr.value : null,
                    write: cw ? cw.value : null, note: notes.join('; ') });
            }
        }
        const sorted = [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

        const L = [];
        L.push('/*');
        L.push(' * core/prices_default.c — the shipped price table. GENERATED: do not edit.');
        L.push(' *');
        L.push(` * Source: the npm package ${PKG} ${VERSION} (license ${LICENSE},`);
        L.push(' * https://github.com/pydantic/genai-prices). Providers, in this order:');
        L.push(` * ${PROVIDERS.join(', ')}.`);
        L.push(` * Generated by: node tools/gen-prices.mjs --as-of ${opt.asOf}`);
        L.push(' *');
        L.push(' * USD per 1M tokens: input, output, cached input (cache read), cache write;');
        L.push(' * -1 = not set (billed at the input rate, core/accounts.h). One row per model');
        L.push(' * id, sorted; an id several providers list comes from the first in the list');
        L.push(' * above. Rules: tiered prices (by prompt length) give their base tier; dated');
        L.push(` * prices give the one in effect on ${opt.asOf}; time-of-day prices give the`);
        L.push(' * highest (peak) rate; models without a per-token input price (audio hours,');
        L.push(' * images, pages) are left out. Rows with a rule applied say so.');
        L.push(' */');
        L.push('#include <stddef.h>');
        L.push('');
        L.push('#include "core/accounts.h"');
        L.push('');
        L.push(`const char gw_prices_default_source[] = "${PKG} ${VERSION}";`);
        L.push('');
        L.push('const struct gw_price_default gw_prices_default[] = {');
        for (const r of sorted) {
            const line = `    {${cString(r.id)}, ${cNumber(r.input)}, ${cNumber(r.output)}, ` +
                `${cNumber(r.cached)}, ${cNumber(r.write)}},`;
            if (r.note) L.push(`    /* ${r.provider}: ${r.note} */`);
            L.push(line);
        }
        L.push('};');
        L.push('');
        L.push('const size_t gw_prices_default_count = ' +
            'sizeof(gw_prices_default) / sizeof(gw_prices_default[0]);');
        L.push('');
        writeFileSync(opt.out, L.join('\n'));
        process.stderr.write(`gen-prices: ${sorted.length} models written to ${opt.out}, ` +
            `${skipped.length} skipped\n`);
    } finally {
        cleanup();
    }
}

main().catch((e) => {
    process.stderr.write(`gen-prices: ${e.message}\n`);
    process.exit(1);
});
