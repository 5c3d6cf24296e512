// HopperDaemon
import HopperCore
