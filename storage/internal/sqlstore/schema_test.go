package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Split reads scripts as a DBA's tool does, DELIMITER lines included, and
// Join writes what Split reads back.
func TestSplitAndJoin(t *testing.T) {
	script := "-- a comment; with a semicolon\nCREATE TABLE t (a INT);\n\nINSERT INTO t VALUES (1)\n  ON DUPLICATE KEY UPDATE a = 2;  \n" +
		"DELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND //\nDELIMITER ;\nDROP TABLE t;\n"
	want := []string{
		"CREATE TABLE t (a INT)",
		"INSERT INTO t VALUES (1)\n  ON DUPLICATE KEY UPDATE a = 2",
		"CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND",
		"DROP TABLE t",
	}
	require.Equal(t, want, Split(script))
	require.Equal(t, want, Split(Join(want)))
	require.Contains(t, Join(want), "DELIMITER //\nCREATE PROCEDURE p()")
	require.Empty(t, Split("-- nothing\n\n"))
}
