// Package webtest holds the browser tests of the agent desktop and the
// supervisor wallboard: headless Chromium (internal/browser) against two
// `tandem serve` replicas run as processes, one Redis and the ARI
// simulator, whose agent phones the tests answer by hand.
//
// The package has no code of its own outside its tests; world_test.go
// builds the world every test starts from (see World).
//
// Run with: go test ./webtest (needs Debian's chromium and redis-server;
// scripts/test.sh installs them). TANDEM_SCREENSHOTS=dir keeps the
// screenshots the tests take; TANDEM_WEBTEST_LOGDIR=dir keeps the
// replicas' logs and configurations.
package webtest
