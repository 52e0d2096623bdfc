// Drives Debian's chromium (playwright-core) over scorch's SVG flame graphs and
// prints what a user would see as one JSON object; test/e2e/test_browser.py asserts
// on it. Usage: node svg.mjs CONFIG.json (paths of the SVGs and the HTML page, the
// frame to click, the searches to run).
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"];
const out = { errors: [], dialogs: [] };

// One browser (playwright gives it a fresh temporary --user-data-dir) and a new
// context per need, so the scripts-off check costs no second start.
let browser = null;
async function launch(opts = {}) {
	if (!browser)
		browser = await chromium.launch({
			executablePath: cfg.chromium || "/usr/bin/chromium",
			headless: true,
			args: ARGS,
		});
	return browser.newContext({ viewport: { width: 1200, height: 900 }, ...opts });
}

function url(path, query = "") {
	return pathToFileURL(path).href + query;
}

// Geometry and state of the frame whose title starts with `name (`.
async function frame(page, name, root = "svg") {
	return page.evaluate(([name, root]) => {
		const svg = document.querySelector(root);
		const frames = [...svg.querySelectorAll(".frames > g")];
		const i = frames.findIndex((g) => g.querySelector("title").textContent.startsWith(name + " ("));
		if (i < 0) return null;
		const g = frames[i], r = g.querySelector("rect").getBoundingClientRect();
		const t = g.querySelector("text");
		return {
			index: i,
			x: r.x, y: r.y, width: r.width, height: r.height,
			cls: g.getAttribute("class") || "",
			display: getComputedStyle(g).display,
			fill: getComputedStyle(g.querySelector("rect")).fill,
			label: t ? t.textContent : null,
			svgWidth: svg.getBoundingClientRect().width,
		};
	}, [name, root]);
}

async function state(page, root = "svg") {
	return page.evaluate((root) => {
		const svg = document.querySelector(root);
		const q = (c) => svg.querySelector("." + c);
		const frames = [...svg.querySelectorAll(".frames > g")];
		return {
			url: location.href,
			matched: q("matched").textContent,
			details: q("details").textContent,
			search: q("search").textContent,
			unzoomVisible: getComputedStyle(q("unzoom")).display !== "none",
			ic: q("ic").getAttribute("class"),
			nMatch: frames.filter((g) => (g.getAttribute("class") || "").includes("match")).length,
			nHidden: frames.filter((g) => getComputedStyle(g).display === "none").length,
			nFrames: frames.length,
			nLabels: svg.querySelectorAll(".frames text").length,
			pwned: window.__pwned === undefined ? null : String(window.__pwned),
		};
	}, root);
}

async function clickFrame(page, name, root = "svg") {
	await page.evaluate(([name, root]) => {
		const svg = document.querySelector(root);
		const g = [...svg.querySelectorAll(".frames > g")].find((g) =>
			g.querySelector("title").textContent.startsWith(name + " ("));
		if (g) g.querySelector("rect").scrollIntoView({ block: "center", inline: "nearest" });
	}, [name, root]);
	const f = await frame(page, name, root);
	if (!f) throw new Error("no frame " + name);
	await page.mouse.click(f.x + Math.min(f.width / 2, 20), f.y + f.height / 2);
	return f;
}

async function main() {
	const ctx = await launch();
	const page = await ctx.newPage();
	page.on("pageerror", (e) => out.errors.push(String(e)));
	page.on("console", (m) => { if (m.type() === "error") out.errors.push(m.text()); });
	let answer = null;
	page.on("dialog", async (d) => {
		out.dialogs.push({ type: d.type(), message: d.message() });
		if (d.type() === "prompt" && answer !== null) await d.accept(answer);
		else await d.dismiss();
	});

	// 1. open, click a frame: it fills the width; ancestors faded, others hidden
	await page.goto(url(cfg.svg));
	out.load = await state(page);
	out.before = await frame(page, cfg.zoom);
	await clickFrame(page, cfg.zoom);
	out.zoomed = await frame(page, cfg.zoom);
	out.zoomedRoot = await frame(page, "all");
	out.zoomedOther = await frame(page, cfg.other);
	out.zoomedState = await state(page);
	await page.mouse.move(out.zoomed.x + 5, out.zoomed.y + out.zoomed.height / 2);
	out.hoverDetails = (await state(page)).details;

	// 2. reset zoom
	const unzoom = await page.evaluate(() => {
		document.querySelector(".unzoom").scrollIntoView({ block: "center" });
		const r = document.querySelector(".unzoom").getBoundingClientRect();
		return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
	});
	await page.mouse.click(unzoom.x, unzoom.y);
	out.reset = await frame(page, cfg.zoom);
	out.resetState = await state(page);

	// 3. Ctrl-F search with a regex; Matched and the highlight
	answer = cfg.search;
	await page.keyboard.press("Control+f");
	out.searched = await state(page);
	out.searchedFrame = await frame(page, cfg.zoom);
	out.searchedOther = await frame(page, cfg.other);

	// 4. Ctrl-I: ignore case, the search is run again
	await page.keyboard.press("Control+i");
	out.icState = await state(page);

	// 5. the URL restores the view: zoom, search and case
	await page.keyboard.press("Control+f"); // resets the search
	answer = cfg.searchUpper;
	await page.keyboard.press("Control+f");
	await clickFrame(page, cfg.zoom);
	out.urlBefore = await state(page);
	const saved = out.urlBefore.url;
	const page2 = await ctx.newPage();
	page2.on("pageerror", (e) => out.errors.push(String(e)));
	await page2.goto(saved);
	out.restored = await state(page2);
	out.restoredFrame = await frame(page2, cfg.zoom);
	await page2.close();

	// 6. a narrower window: labels refitted by arithmetic, quickly
	await page.goto(url(cfg.svg));
	await page.setViewportSize({ width: 700, height: 900 });
	await page.waitForTimeout(200);
	out.narrow = await frame(page, cfg.zoom);

	// 7. hostile names: hover and click every frame, search them; nothing runs
	answer = "script|alert|javascript";
	out.dialogs.length = 0;
	await page.setViewportSize({ width: 1200, height: 900 });
	await page.goto(url(cfg.hostile));
	const n = (await state(page)).nFrames;
	for (let i = 0; i < n; i++) {
		const box = await page.evaluate((i) => {
			const g = document.querySelectorAll(".frames > g")[i];
			if (getComputedStyle(g).display === "none") return null;
			g.querySelector("rect").scrollIntoView({ block: "center" });
			const r = g.querySelector("rect").getBoundingClientRect();
			return { x: r.x + Math.min(r.width / 2, 5), y: r.y + r.height / 2 };
		}, i);
		if (!box) continue;
		await page.mouse.move(box.x, box.y);
		await page.mouse.click(box.x, box.y);
	}
	await page.keyboard.press("Control+f");
	out.hostile = await state(page);
	out.hostileTitles = await page.evaluate(() =>
		[...document.querySelectorAll(".frames > g > title")].map((t) => t.textContent));
	out.hostileDialogs = out.dialogs.filter((d) => d.type !== "prompt");
	out.hostileScripts = await page.evaluate(() => document.querySelectorAll("script").length);

	// 8. two graphs in one HTML page keep apart
	await page.goto(url(cfg.html));
	const ids = await page.evaluate(() => [...document.querySelectorAll("[id]")].map((e) => e.id));
	out.pageIds = ids;
	await clickFrame(page, cfg.zoom, "#first svg");
	out.pageFirst = await state(page, "#first svg");
	out.pageSecond = await state(page, "#second svg");
	out.pageUrl = page.url();

	// 9. dark theme
	await page.emulateMedia({ colorScheme: "dark" });
	await page.goto(url(cfg.svg));
	out.darkBg = await page.evaluate(() => getComputedStyle(document.querySelector(".bg")).fill);
	out.darkTitle = await page.evaluate(() => getComputedStyle(document.querySelector(".title")).fill);
	await page.emulateMedia({ colorScheme: "light" });
	await page.goto(url(cfg.svg));
	out.lightBg = await page.evaluate(() => getComputedStyle(document.querySelector(".bg")).fill);

	// 10. a big graph: load and a resize refit
	const t0 = Date.now();
	await page.goto(url(cfg.big));
	out.bigLoadMs = Date.now() - t0;
	out.bigState = await state(page);
	out.bigRefitMs = await page.evaluate(async () => {
		const t = performance.now();
		window.dispatchEvent(new Event("resize"));
		await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
		return performance.now() - t;
	});
	await clickFrame(page, "all");
	const t1 = Date.now();
	await clickFrame(page, cfg.bigZoom);
	out.bigZoomMs = Date.now() - t1;
	out.bigZoomed = await frame(page, cfg.bigZoom);

	// 12. render --nameattr: a frame that is a link (<a>) keeps its own class through
	// zoom and search, shows the hover outline, and a plain click zooms, not follows
	if (cfg.linked) {
		await page.goto(url(cfg.linked));
		const link = () => page.evaluate(() => {
			const a = document.querySelector(".frames > a");
			const r = a.querySelector("rect");
			const b = r.getBoundingClientRect();
			return {
				x: b.x + b.width / 2, y: b.y + b.height / 2, width: b.width,
				svgWidth: document.querySelector("svg").getBoundingClientRect().width,
				cls: a.getAttribute("class") || "", stroke: getComputedStyle(r).stroke,
				cursor: getComputedStyle(a).cursor,
			};
		});
		out.linkBefore = await link();
		await page.mouse.move(out.linkBefore.x, out.linkBefore.y);
		out.linkHover = await link();
		await page.mouse.click(out.linkBefore.x, out.linkBefore.y);
		await page.waitForTimeout(200);
		out.linkUrl = page.url();
		out.linkZoomed = await link();
		answer = "^work$";
		await page.keyboard.press("Control+f");
		out.linkSearched = await link();
	}
	await ctx.close();

	// 11. scripts off: every frame and label is there
	const ctx2 = await launch({ javaScriptEnabled: false });
	const p2 = await ctx2.newPage();
	await p2.goto(url(cfg.svg));
	out.noscript = await p2.evaluate(() => ({
		frames: document.querySelectorAll(".frames > g").length,
		labels: document.querySelectorAll(".frames text").length,
		visible: [...document.querySelectorAll(".frames > g rect")].filter((r) => r.getBoundingClientRect().width > 0).length,
	}));
	out.noscriptFrame = await frame(p2, cfg.zoom);
	await ctx2.close();
}

try {
	await main();
} catch (e) {
	out.fatal = String(e && e.stack || e);
} finally {
	if (browser) await browser.close();
}
console.log(JSON.stringify(out));
