"""Runs CPython's test_interpreters suites against subinterp's drop-in layer
inside an embedded interpreter, and reports each test's outcome.

Called by suite_test.go: run(package, version, skips_file, report_file,
only, executable).
"""
import fnmatch
import io
import json
import sys
import unittest

FILES = ('test_api', 'test_channels', 'test_queues')


def load_skips(path, version):
    """[(pattern, reason)] for this version: one line per skip,
    "<version|*> <file.Class.test pattern> <reason>"; # comments."""
    skips = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            ver, pattern, reason = line.split(None, 2)
            if ver in ('*', version):
                skips.append((pattern, reason))
    return skips


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


class Result(unittest.TextTestResult):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.outcomes = {}

    def _set(self, test, outcome, detail=''):
        key = test.id()
        # A failing subtest fails its test.
        if self.outcomes.get(key, ('pass',))[0] in ('fail', 'error') and outcome == 'pass':
            return
        self.outcomes[key] = (outcome, detail)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, 'pass')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, 'fail', self._exc_info_to_string(err, test)[-2000:])

    def addError(self, test, err):
        super().addError(test, err)
        self._set(test, 'error', self._exc_info_to_string(err, test)[-2000:])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, 'skip', reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, 'pass')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, 'fail', 'unexpected success')

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = 'fail' if issubclass(err[0], test.failureException) else 'error'
            self.outcomes[test.id()] = (outcome, f'{subtest._subDescription()}: '
                                        + self._exc_info_to_string(err, test)[-2000:])


def destroy_subinterp_queues():
    """Destroys every open subinterp queue.

    test_queues' TestBase.tearDown destroys every queue of CPython's private
    _interpqueues, which cannot see subinterp's; the harness appends a call
    to this (see renames in suite_test.go) so each test starts without the
    queues earlier tests left to the garbage collector, as in CPython.
    """
    import subinterp
    from subinterp.interpreters import _crossinterp
    for r, s in _crossinterp.list_tagged(_crossinterp.is_queue_tag):
        try:
            r.close(force=True)
        except subinterp.ChannelError:
            pass  # closed since it was listed
        finally:
            r.release()
            s.release()


def run(package, version, skips_file, report_file, only='', executable=''):
    if executable:
        # A python3 symlink to the subinterp binary: the tests that start
        # sys.executable run their scripts through `subinterp python`.
        sys.executable = sys._base_executable = executable
    skips = load_skips(skips_file, version)
    loader = unittest.TestLoader()
    selected = unittest.TestSuite()
    out_of_scope = {}
    for name in FILES:
        for test in flatten(loader.loadTestsFromName(f'{package}.{name}')):
            short = test.id()[len(package) + 1:]
            reason = next((r for p, r in skips if fnmatch.fnmatchcase(short, p)), None)
            if reason is not None:
                out_of_scope[short] = reason
            elif not only or fnmatch.fnmatchcase(short, only):
                selected.addTest(test)
    stream = io.StringIO() if not sys.stdout else sys.stdout
    runner = unittest.TextTestRunner(stream=stream, verbosity=2, resultclass=Result)
    result = runner.run(selected)
    outcomes = {k[len(package) + 1:]: v for k, v in result.outcomes.items()}
    report = {
        'version': version,
        'outcomes': outcomes,
        'out_of_scope': out_of_scope,
    }
    with open(report_file, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=1, sort_keys=True)
