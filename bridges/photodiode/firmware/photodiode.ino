// cosim photodiode board: the line protocol of docs/photodiode.md on an Arduino-class board.
// A photodiode / light sensor module on A0 faces the lens where the client flashes its patch.
// Not compiled in CI (no Arduino toolchain there); the host side is tested against
// bridges/photodiode/emulator.py, which speaks the same protocol.
const int SENSOR = A0;
const int RISE = 600, FALL = 400;  // ADC thresholds (0..1023) with hysteresis; set them with the lens lit / dark
char line[24];
byte len = 0;
bool lit = false;

void setup() {
  Serial.begin(115200);
  Serial.println("H cosim-photodiode 1");
}

void loop() {
  int level = analogRead(SENSOR);  // ~110 us on a 16 MHz AVR: the onset's resolution
  unsigned long now = micros();
  if (!lit && level > RISE) {
    lit = true;
    Serial.print("F ");
    Serial.println(now);
  } else if (lit && level < FALL) {
    lit = false;
  }
  while (Serial.available()) {
    char c = Serial.read();
    unsigned long read = micros();
    if (c == '\n') {
      line[len] = 0;
      if (line[0] == 'P' && line[1] == ' ') {
        Serial.print("p ");
        Serial.print(line + 2);
        Serial.print(' ');
        Serial.println(read);  // the probe's last byte arrived: the moment the host's fit pairs with
      } else {
        Serial.println("E unknown command");
      }
      len = 0;
    } else if (c != '\r' && len < sizeof(line) - 1) {
      line[len++] = c;
    }
  }
}
