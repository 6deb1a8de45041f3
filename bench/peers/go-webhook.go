// A validating admission webhook on Go's standard library only (net/http, crypto/tls, encoding/json):
// the stack controller-runtime's webhook server builds on. It decodes the whole AdmissionReview into
// typed structs, as a controller-runtime webhook does, compares the maintenance taints of the old and the
// new Node, and allows the update (the benchmark sends updates that change no maintenance taint).
//
// Usage: go-webhook HOST:PORT CERT KEY
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"
)

type taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

type node struct {
	Metadata struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Taints []taint `json:"taints"`
	} `json:"spec"`
	Status json.RawMessage `json:"status"`
}

type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID       string `json:"uid"`
		Operation string `json:"operation"`
		Object    node   `json:"object"`
		OldObject node   `json:"oldObject"`
	} `json:"request"`
}

var keys = map[string]bool{"drain": true, "node.vmware.com/drain": true, "node.dell.com/drain": true}

func maintenance(n node) map[string]bool {
	m := map[string]bool{}
	for _, t := range n.Spec.Taints {
		if keys[t.Key] && (t.Effect == "NoSchedule" || t.Effect == "NoExecute") {
			m[t.Key+"="+t.Value+":"+t.Effect] = true
		}
	}
	return m
}

func validate(w http.ResponseWriter, r *http.Request) {
	var in review
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Request == nil {
		http.Error(w, `{"error":"bad review"}`, http.StatusBadRequest)
		return
	}
	before, after := maintenance(in.Request.OldObject), maintenance(in.Request.Object)
	changed := len(before) != len(after)
	for k := range after {
		if !before[k] {
			changed = true
		}
	}
	out := map[string]any{
		"apiVersion": in.APIVersion, "kind": "AdmissionReview",
		"response": map[string]any{"uid": in.Request.UID, "allowed": true},
	}
	if changed {
		out["response"].(map[string]any)["warnings"] = []string{"maintenance taint changed; not decided by this peer"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: go-webhook HOST:PORT CERT KEY")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/validate", validate)
	server := &http.Server{Addr: os.Args[1], Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(server.ListenAndServeTLS(os.Args[2], os.Args[3]))
}
