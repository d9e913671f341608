package api

import "github.com/tandem-cc/tandem/internal/syncbuf"

// syncBuffer is shared by the logger and the test.
type syncBuffer = syncbuf.Buffer
