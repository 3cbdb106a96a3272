// Drives the BlazePose web page in headless Chromium (Debian's, through playwright-core).
//
//   NODE_PATH=<npm packages> node drive_page.js URL PICTURE.png SCREENSHOT.png RESULT.json
//
// Opens URL, waits for the model, uploads PICTURE, waits for the page's result (its
// window.blazeposeResult), takes a screenshot, then starts the (fake) webcam and waits for a
// result from a video frame. Writes {upload, webcam, status} to RESULT.json.
'use strict';
const fs = require('fs');
const { chromium } = require('playwright-core');

const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // A synthetic camera and an automatic "allow" for it.
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

async function main() {
  const [url, picture, screenshot, resultPath] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: FLAGS,
  });
  const output = { console: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
    page.on('console', (message) => output.console.push(message.text()));
    page.on('pageerror', (error) => output.console.push(`pageerror: ${error.message}`));
    await page.goto(url);
    const settled = '["ready", "error"].includes(document.getElementById("status").dataset.state)';
    await page.waitForFunction(settled, null, { timeout: 120000 });
    output.status = await page.textContent('#status');
    if (await page.getAttribute('#status', 'data-state') === 'error') throw new Error(output.status);
    await page.setInputFiles('#file', picture);
    await page.waitForFunction('window.blazeposeResult || document.getElementById("status")' +
      '.dataset.state === "error"', null, { timeout: 180000 });
    output.upload = await page.evaluate(() => window.blazeposeResult);
    output.status = await page.textContent('#status');
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.evaluate(() => { window.blazeposeResult = null; });
    await page.click('#webcam');
    await page.waitForFunction('window.blazeposeResult || document.getElementById("status")' +
      '.dataset.state === "error"', null, { timeout: 180000 });
    output.webcam = await page.evaluate(() => window.blazeposeResult);
    output.webcamStatus = await page.textContent('#status');
  } finally {
    fs.writeFileSync(resultPath, JSON.stringify(output));
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
