// Package upgrade holds the upgrade test: statefold v0.1.0 (its source is
// kept in testdata/v0.1.0.tar.gz) writes rollouts and queues mid-flight on
// MariaDB, PostgreSQL and DynamoDB, then this release takes over; and the
// tests of the rolling-deploy and rollback rules the README's "Upgrading"
// section states. It has no exported API; run it with make upgrade.
package upgrade
