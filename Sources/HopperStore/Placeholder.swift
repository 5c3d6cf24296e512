// HopperStore
import HopperCore
