#version 300 es
// sundown's wind-down grayscale, a screen shader for Hyprland (decoration:screen_shader):
// every pixel becomes its luma (Rec. 709 weights), alpha is kept. GLSL ES 3.00, which
// Hyprland 0.50 and later require of a screen shader.
precision highp float;

in vec2 v_texcoord;
uniform sampler2D tex;
out vec4 fragColor;

void main() {
    vec4 pixel = texture(tex, v_texcoord);
    float luma = dot(pixel.rgb, vec3(0.2126, 0.7152, 0.0722));
    fragColor = vec4(vec3(luma), pixel.a);
}
