package esl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// job is a bgapi command waiting for its BACKGROUND_JOB.
type job struct {
	result chan string // the job's body; buffered, written once
	// ringLeg: the job is a ring's originate; its result is also an event
	// of that leg (a failure is the ring's outcome).
	ringLeg string
}

// currentConn returns the socket, or errNotConnected.
func (d *Driver) currentConn() (*conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil || d.conn.isLost() {
		return nil, errNotConnected
	}
	return d.conn, nil
}

func (d *Driver) newJobID() string {
	return d.jobPrefix + strconv.FormatUint(d.jobSeq.Add(1), 36)
}

// startJob sends `bgapi <cmd>` with a Job-UUID of the driver's, registered
// before the command goes out (the result may come before the reply is
// read). It returns once FreeSWITCH has accepted the job.
func (d *Driver) startJob(ctx context.Context, cmd string, ringLeg string) (id string, j *job, c *conn, err error) {
	c, err = d.currentConn()
	if err != nil {
		return "", nil, nil, err
	}
	id = d.newJobID()
	j = &job{result: make(chan string, 1), ringLeg: ringLeg}
	d.mu.Lock()
	d.jobs[id] = j
	d.mu.Unlock()
	resp, err := c.send(ctx, "bgapi "+cmd+"\r\nJob-UUID: "+id)
	if err == nil && !resp.IsOk() {
		err = fmt.Errorf("refused: %s", resp.GetReply())
	}
	if err != nil {
		d.dropJob(id)
		return "", nil, nil, err
	}
	return id, j, c, nil
}

func (d *Driver) dropJob(id string) {
	d.mu.Lock()
	delete(d.jobs, id)
	d.mu.Unlock()
}

// api runs one command as a bgapi job and returns its result body. A body
// saying the leg is gone is acd.ErrLegGone; any other "-ERR"/"-USAGE"
// body is an error. The wait is bounded by the request timeout and ctx; a
// socket lost meanwhile ends it (job results go only to connected
// sockets).
func (d *Driver) api(ctx context.Context, cmd string) (string, error) {
	body, err := d.apiRaw(ctx, cmd)
	if err != nil {
		return "", err
	}
	if err := bodyErr(body); err != nil {
		return body, fmt.Errorf("esl %s: %w", cmd, err)
	}
	return body, nil
}

// apiRaw is api without the body's interpretation.
func (d *Driver) apiRaw(ctx context.Context, cmd string) (string, error) {
	id, j, c, err := d.startJob(ctx, cmd, "")
	if err != nil {
		return "", fmt.Errorf("esl %s: %w", cmd, err)
	}
	defer d.dropJob(id)
	t := time.NewTimer(d.opts.RequestTimeout)
	defer t.Stop()
	select {
	case body := <-j.result:
		return body, nil
	case <-t.C:
		return "", fmt.Errorf("esl %s: no job result in %v", cmd, d.opts.RequestTimeout)
	case <-c.lost:
		return "", fmt.Errorf("esl %s: %w before its result", cmd, errConnLost)
	case <-ctx.Done():
		return "", fmt.Errorf("esl %s: %w", cmd, ctx.Err())
	}
}

// bodyErr reads a job's result: nil for success, acd.ErrLegGone for a
// gone leg, an error with FreeSWITCH's text for anything else that failed.
func bodyErr(body string) error {
	b := strings.TrimSpace(body)
	switch {
	case isGone(b):
		return fmt.Errorf("%w: %s", acd.ErrLegGone, b)
	case strings.HasPrefix(b, "-"):
		return fmt.Errorf("%s", b)
	}
	return nil
}
