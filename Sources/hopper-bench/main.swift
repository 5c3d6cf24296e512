print("hopper-bench")
