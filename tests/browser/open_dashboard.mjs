// Holds the dashboard open in headless Chromium while a benchmark runs
// (bench/dashboard-overhead):
//
//   node20 open_dashboard.mjs URL
//
// Prints "open" once the page shows data, then keeps it polling until its
// stdin closes; prints how many /dashboard.json answers the page got.
import { chromium } from 'playwright-core';

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({viewport: {width: 1280, height: 900}});
let polls = 0;
page.on('response', (r) => { if (r.url().endsWith('/dashboard.json') && r.ok()) polls++; });
await page.goto(url + '/dashboard');
await page.waitForSelector('section.model .tile', {timeout: 30000});
console.log('open');
await new Promise((resolve) => {
  process.stdin.on('end', resolve);
  process.stdin.on('close', resolve);
  process.stdin.resume();
});
console.log(`polls ${polls}`);
await browser.close();
