"""Puts a running modeld into the state the dashboard test looks at, over its JSON API:
`runs200`, a regression model with 200 versions whose params differ; `flowers`, a
classifier whose feature and class names carry HTML, with two versions, a `production`
alias, predictions that drift and feedback that gives online quality."""

import json
import random
import time
import urllib.error
import urllib.request

XSS_FEATURE = '<img src=x onerror="window.__xss=1">'
XSS_CLASSES = ['<script>window.__xss=2</script>', '<b>bold</b>', 'plain']


class Api:
    def __init__(self, url, key):
        self.url = url.rstrip('/')
        self.key = key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header('authorization', f'Bearer {self.key}')
        if data is not None:
            req.add_header('content-type', 'application/json')
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                text = res.read().decode()
                return res.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or 'null')

    def ok(self, method, path, body=None):
        status, answer = self.call(method, path, body)
        if status >= 300:
            raise AssertionError(f'{method} {path} -> {status} {answer}')
        return answer

    def train(self, model, body):
        """Starts a job, waits for it, returns the version it registered."""
        for _ in range(600):
            status, answer = self.call('POST', f'/v1/models/{model}/train', body)
            if status != 429:  # the queue is full: wait for a slot
                break
            time.sleep(0.05)
        if status != 202:
            raise AssertionError(f'train {model} -> {status} {answer}')
        job = answer['job_id']
        for _ in range(3000):
            state = self.ok('GET', f'/v1/jobs/{job}')
            if state['state'] == 'succeeded':
                return state['version']
            if state['state'] in ('failed', 'cancelled'):
                raise AssertionError(f'job {job}: {state}')
            time.sleep(0.02)
        raise AssertionError(f'job {job} never finished')


def flowers_rows(n, seed, shift=0.0):
    rnd = random.Random(seed)
    rows, labels = [], []
    for i in range(n):
        c = i % 3
        rows.append([c * 2.0 + rnd.gauss(0, 0.6) + shift, 1.0 - c + rnd.gauss(0, 0.6)])
        labels.append(XSS_CLASSES[c])
    return rows, labels


def regression_rows(n, seed):
    rnd = random.Random(seed)
    rows = [[rnd.uniform(-2, 2), rnd.uniform(-2, 2)] for _ in range(n)]
    return rows, [3.0 * a - 2.0 * b + rnd.gauss(0, 0.3) for a, b in rows]


def populate(api, versions=200):
    rows, targets = regression_rows(120, 7)
    data = {'rows': rows, 'targets': targets, 'feature_names': ['a', 'b']}
    for i in range(versions):
        api.train('runs200', {
            'algorithm': 'linear_regression', 'data': data,
            'params': {'solver': 'gd', 'optimizer': 'gd', 'epochs': 5,
                       'learning_rate': [0.05, 0.1][i % 2], 'l2': round(0.001 * (i // 2), 6), 'seed': 1},
            'validation_split': 0.25})
    rows, labels = flowers_rows(150, 11)
    data = {'rows': rows, 'targets': labels, 'feature_names': [XSS_FEATURE, 'petal']}
    for lr, alias in ((0.05, 'production'), (0.2, None)):
        body = {'algorithm': 'softmax_regression', 'data': data, 'validation_split': 0.2,
                'params': {'optimizer': 'adam', 'learning_rate': lr, 'epochs': 40, 'seed': 3}}
        if alias:
            body['alias'] = alias
        api.train('flowers', body)
    # Shifted live traffic (drift) on the production version, then its ground truth.
    live, truth = flowers_rows(120, 12, shift=2.5)
    for start in range(0, len(live), 40):
        answer = api.ok('POST', '/v1/models/flowers/predict', {'instances': live[start:start + 40]})
        api.ok('POST', '/v1/models/flowers/feedback',
               {'request_id': answer['request_id'], 'actual': truth[start:start + 40]})
