print("hopper")
