package e2e

import (
	"fmt"
	"net/http"

	"github.com/tandem-cc/tandem/internal/lab"
)

func deleteChannel(l *lab.Lab, id string) error {
	req, _ := http.NewRequest(http.MethodDelete, l.ARIURL+"/channels/"+id+"?reason_code=16", nil)
	req.SetBasicAuth("tandem", "tandem-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("hang up %s: %s", id, resp.Status)
	}
	return nil
}

// createBridge creates a mixing bridge with id through the simulator's REST
// API, as an earlier holder of a seat did for one of its calls.
func createBridge(l *lab.Lab, id string) error {
	req, _ := http.NewRequest(http.MethodPost, l.ARIURL+"/bridges?type=mixing&bridgeId="+id, nil)
	req.SetBasicAuth("tandem", "tandem-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create bridge %s: %s", id, resp.Status)
	}
	return nil
}
