"""Loads modeld's dashboard in Debian's chromium (headless, through playwright) and
checks what a person would see against what the JSON API says. Prints `passed` and a
JSON line of measurements; exits non-zero on the first difference.

usage: drive.py URL API_KEY SCREENSHOT_DIR"""

import json
import os
import sys

from playwright.sync_api import sync_playwright, expect

from setup import Api, XSS_FEATURE, XSS_CLASSES, populate

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
# Without the background-networking flags chromium keeps dialling Google, which this
# sandbox refuses.
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync']


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def nav(page, url, hash):
    """Goes to a view and waits until that view (not the one before) has rendered."""
    page.goto(f'{url}/#{hash}')
    page.wait_for_selector(f'body[data-ready="true"][data-route="#{hash}"]')


def no_injection(page, where):
    """HTML in names stayed text: no element it describes exists, and nothing ran."""
    found = page.locator('#view img[src="x"], #view script, #view b').count()
    check(found == 0, f'{where}: {found} injected elements')
    check(page.evaluate('window.__xss === undefined'), f'{where}: an injected script ran')


def cell(page, version, col):
    return page.locator(f'table.runs tr[data-version="{version}"] td[data-col="{col}"]').inner_text()


def shown(x):
    """The dashboard's number format (dom.js fmt), for comparing cells with the API."""
    if x is None:
        return '—'
    if float(x).is_integer() and not isinstance(x, float):
        return str(x)
    if abs(x) != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
        return None  # exponent form: compared numerically instead
    return repr(float(f'{x:.4g}')).removesuffix('.0')


def same_number(text, value):
    if value is None:
        return text == '—'
    return abs(float(text) - value) <= 5e-4 * max(1.0, abs(value))


def main(url, key, shots):
    api = Api(url, key)
    populate(api)
    os.makedirs(shots, exist_ok=True)
    measured = {}
    alerts = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={'width': 1360, 'height': 860})
        page.on('dialog', lambda d: (alerts.append(d.message), d.dismiss()))
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))

        # Escape at the key dialog leaves the 401 on screen; the header button asks again.
        page.goto(url + '/')
        page.wait_for_selector('#key-dialog[open]')
        page.keyboard.press('Escape')
        page.wait_for_selector('body[data-ready="true"] #view .error')
        check('401' in page.inner_text('#view') or 'API key' in page.inner_text('#view'), page.inner_text('#view'))
        page.click('#key-button')
        page.wait_for_selector('#key-dialog[open]')
        page.fill('#key-input', key)
        page.click('#key-ok')
        page.wait_for_selector('body[data-ready="true"] [data-test=models-table]')
        links = page.locator('[data-test=model-link]')
        expect(links).to_have_count(2)
        check(sorted(links.all_inner_texts()) == ['flowers', 'runs200'], links.all_inner_texts())
        row = page.locator('tr[data-model="flowers"]')
        check('production → v1' in row.inner_text(), row.inner_text())
        page.screenshot(path=f'{shots}/dashboard-models.png')

        # Runs table: 200 rows, values as the API gives them.
        nav(page, url, '/models/runs200')
        expect(page.locator('table.runs tbody tr')).to_have_count(200)
        measured['runs_render'] = page.evaluate('window.modeldDashboard.runsRender')
        runs = {v['version']: v for v in api.ok('GET', '/v1/models/runs200/versions')['versions']}
        check(len(runs) == 200, len(runs))
        for v in (1, 2, 117, 200):
            want = runs[v]
            check(cell(page, v, 'params.l2') == shown(want['params']['l2']), (v, 'l2'))
            check(cell(page, v, 'params.learning_rate') == shown(want['params']['learning_rate']), (v, 'lr'))
            check(same_number(cell(page, v, 'metrics.validation.r2'), want['metrics']['validation']['r2']), (v, 'r2'))
            check(same_number(cell(page, v, 'curve.validation_loss'), want['curve']['last']['validation_loss']), (v, 'last'))
        first = page.locator('table.runs tbody tr').first
        check(first.get_attribute('data-version') == '200', 'newest first')
        page.click('th[data-col="version"]')
        check(page.locator('table.runs tbody tr').first.get_attribute('data-version') == '1', 'sorted ascending')
        measured['runs_resort'] = page.evaluate('window.modeldDashboard.runsRender')
        page.click('th[data-col="metrics.validation.r2"]')
        best = max(runs.values(), key=lambda r: r['metrics']['validation']['r2'])['metrics']['validation']['r2']
        top = page.locator('table.runs tbody tr').first.get_attribute('data-version')
        check(same_number(cell(page, top, 'metrics.validation.r2'), best), 'sorted by r2, best first')

        # Best instead of last value of each curve.
        page.select_option('[data-test=curve-mode]', 'best')
        for v in (3, 200):
            check(same_number(cell(page, v, 'curve.validation_loss'), runs[v]['curve']['best']['validation_loss']), (v, 'best'))

        # Columns chosen are remembered across a reload.
        page.click('details.columns summary')
        page.uncheck('.chooser input[data-col="params.seed"]')
        check(page.locator('th[data-col="params.seed"]').count() == 0, 'seed column hidden')
        page.reload()
        expect(page.locator('table.runs tbody tr')).to_have_count(200)
        check(page.locator('th[data-col="params.seed"]').count() == 0, 'hidden after reload')
        check(page.locator('th[data-col="params.l2"]').count() == 1, 'l2 still shown')

        # Only the params that differ between the selected runs: 1 and 3 share the
        # learning rate and differ in l2.
        page.check('tr[data-version="1"] input[type=checkbox]')
        page.check('tr[data-version="3"] input[type=checkbox]')
        page.check('[data-test=only-differ]')
        params = page.locator('table.runs th.param').evaluate_all('ths => ths.map(t => t.dataset.col)')
        check(params == ['params.l2'], params)
        page.screenshot(path=f'{shots}/dashboard-runs.png')
        page.uncheck('[data-test=only-differ]')

        # Learning curves of both flowers versions, overlaid.
        nav(page, url, '/models/flowers/curves')
        page.select_option('select[aria-label="versions to draw"]', ['1', '2'])
        loss = page.locator('[data-test=loss-chart] svg[role=img]')
        expect(loss).to_have_count(1)
        check(loss.locator('path.series').count() == 4, 'train and validation for two versions')
        epochs = [len(api.ok('GET', f'/v1/models/flowers/versions/{v}')['training']['history']) for v in (1, 2)]
        points = int(loss.get_attribute('data-points'))
        check(points == 2 * sum(epochs), (points, epochs))
        check(loss.locator('circle.point').count() == points, 'a marker per point')
        page.screenshot(path=f'{shots}/dashboard-curves.png')

        # Online quality and drift rows.
        nav(page, url, '/models/flowers/monitoring?poll=500')
        section = page.locator('section[data-version="1"]')
        rows = section.locator('[data-test=drift-row]')
        expect(rows).to_have_count(2)
        report = api.ok('GET', '/v1/models/flowers/monitoring')
        mine = next(v for v in report['versions'] if v['version'] == 1)
        for f in mine['drift']['features']:
            r = rows.filter(has_text=f['feature'] if f['feature'] == 'petal' else 'window.__xss=1')
            cells = r.locator('td').all_inner_texts()
            check(cells[0] == f['feature'], cells)
            check(same_number(cells[1], f['psi']), (cells, f['psi']))
            check(cells[2] == ('drifted' if f['drifted'] else 'ok'), cells)
        check(mine['drift']['features'][0]['drifted'], 'the shifted feature drifted')
        quality = section.locator('[data-test=online-quality]').inner_text()
        check(f"accuracy\t{shown(mine['online']['accuracy'])}" in quality, (quality, mine['online']))
        # Two polls or more: per-feature PSI over time (two features and the threshold),
        # and online quality over time (four metrics).
        # (Polled from here: the page's CSP forbids the eval behind wait_for_function.)
        psi = section.locator('[data-test=psi-chart] svg[role=img]')
        for _ in range(200):
            if psi.count() == 1 and int(psi.get_attribute('data-points')) >= 6:
                break
            page.wait_for_timeout(100)
        else:
            raise AssertionError('the drift chart never had two polls')
        series = psi.locator('path.series').evaluate_all('ps => ps.map(p => p.dataset.series)')
        check(sorted(series) == sorted([XSS_FEATURE, 'petal', 'threshold']), series)
        quality = section.locator('[data-test=quality-chart] svg[role=img]')
        check(int(quality.get_attribute('data-points')) >= 8, 'online quality over two polls')
        page.screenshot(path=f'{shots}/dashboard-monitoring.png', full_page=True)

        # Promote v2 through the UI, then roll back.
        nav(page, url, '/models/flowers')
        alias = page.locator('tr[data-alias="production"]')
        alias.locator('select').select_option('2')
        alias.locator('[data-test=promote]').click()
        expect(page.locator('tr[data-alias="production"] [data-test=alias-version]')).to_have_text('v2')
        check(api.ok('GET', '/v1/models/flowers')['aliases']['production'] == 2, 'promoted')
        back = page.locator('tr[data-alias="production"] [data-test=rollback]')
        check(back.inner_text() == 'Roll back to v1', back.inner_text())
        back.click()
        expect(page.locator('tr[data-alias="production"] [data-test=alias-version]')).to_have_text('v1')
        check(api.ok('GET', '/v1/models/flowers')['aliases']['production'] == 1, 'rolled back')

        check(alerts == [], alerts)
        check(errors == [], errors)
        check(page.evaluate("sessionStorage.getItem('modeld.apiKey')") == key, 'key in sessionStorage')
        check(page.evaluate("localStorage.getItem('modeld.apiKey')") is None, 'key not in localStorage')

        # HTML in names is text: present literally, never an element, never run. Checked
        # with the page's CSP bypassed, so the escaping is what is tested, on every view
        # that shows a name.
        bare = browser.new_context(bypass_csp=True, viewport={'width': 1360, 'height': 860}).new_page()
        bare.on('dialog', lambda d: (alerts.append(d.message), d.dismiss()))
        bare.goto(url + '/')
        bare.wait_for_selector('#key-dialog[open]')
        bare.fill('#key-input', key)
        bare.click('#key-ok')
        bare.wait_for_selector('body[data-ready="true"] [data-test=models-table]')
        no_injection(bare, 'models')
        nav(bare, url, '/models/flowers')
        bare.click('details.columns summary')
        bare.check('.chooser input[data-col="features"]')
        text = bare.locator('table.runs').inner_text()
        check(XSS_FEATURE in text, 'feature name shown as text')
        for name in XSS_CLASSES:
            check(name in text, f'class name {name} shown as text')
        no_injection(bare, 'runs')
        nav(bare, url, '/models/flowers/monitoring?poll=500')
        bare.wait_for_selector('section[data-version="1"] [data-test=drift-row]')
        check(XSS_FEATURE in bare.locator('[data-test=drift-table]').first.inner_text(), 'drift row as text')
        bare.wait_for_selector('[data-test=psi-chart] path.series', state='attached')
        check(XSS_FEATURE in bare.locator('[data-test=psi-chart]').first.inner_text(), 'legend as text')
        no_injection(bare, 'monitoring')
        nav(bare, url, '/models/flowers/curves')
        bare.wait_for_selector('[data-test=loss-chart] svg[role=img]')
        no_injection(bare, 'curves')
        check(alerts == [], alerts)
        browser.close()
    print('passed')
    print(json.dumps(measured))


if __name__ == '__main__':
    main(*sys.argv[1:4])
