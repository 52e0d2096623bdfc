// Opens scorch's speedscope files in speedscope itself (the npm package's release
// build, served from a local HTTP server, driven in Debian's chromium by
// playwright-core) and prints what the page showed as JSON, for
// test/e2e/test_formats.py. Usage: node speedscope.mjs FILE.speedscope.json...
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, extname, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const release = join(here, "node_modules", "speedscope", "dist", "release");
const files = process.argv.slice(2);
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
	".json": "application/json", ".wasm": "application/wasm", ".png": "image/png" };

const server = createServer((req, res) => {
	const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
	let file = null;
	const m = path.match(/^\/profile(\d+)\.json$/);
	if (m) file = files[Number(m[1])];
	else if (!path.includes("..")) file = join(release, path === "/" ? "index.html" : path);
	if (!file || !existsSync(file)) {
		res.writeHead(404);
		res.end();
		return;
	}
	res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream" });
	res.end(readFileSync(file));
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const port = server.address().port;

const dir = mkdtempSync(join(tmpdir(), "scorch-speedscope-"));
const ctx = await chromium.launchPersistentContext(dir, {
	executablePath: "/usr/bin/chromium",
	headless: true,
	args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync"],
	viewport: { width: 1200, height: 800 },
});
async function show(i) {
	const page = await ctx.newPage();
	const seen = { file: files[i], errors: [], dialogs: [] };
	page.on("pageerror", (e) => seen.errors.push(String(e)));
	page.on("console", (msg) => { if (msg.type() === "error") seen.errors.push(msg.text()); });
	page.on("dialog", async (d) => { seen.dialogs.push(d.message()); await d.dismiss(); });
	await page.goto(`http://127.0.0.1:${port}/index.html#profileURL=/profile${i}.json`);
	// speedscope names the tab after the profile once it has imported it
	try {
		await page.waitForFunction(() => document.title.endsWith(" - speedscope"),
			null, { timeout: 60000 });
	} catch (e) {
		seen.errors.push("no profile shown: " + String(e).split("\n")[0]);
	}
	await page.waitForTimeout(300);
	seen.title = await page.title();
	seen.text = await page.evaluate(() => document.body.innerText.slice(0, 2000));
	seen.canvases = await page.evaluate(() =>
		[...document.querySelectorAll("canvas")].filter((c) => c.width > 100 && c.height > 100).length);
	await page.close();
	return seen;
}

let out = [];
try {
	// the files load side by side: one browser, one tab each
	out = await Promise.all(files.map((_, i) => show(i)));
} finally {
	await ctx.close();
	server.close();
	rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out));
