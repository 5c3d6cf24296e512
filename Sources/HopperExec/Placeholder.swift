import HopperCore
