print("tmm-webhook: not built yet")
